import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's `chromium`, driven headless by playwright-core (which brings no browser of its own). */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Launches the headless Chromium, or fails saying how to install it. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); CI does`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * Signs in to the dashboard at `base` with `token`, from the sign-in form the page already shows
 * (say, after a refused token) or else one it opens; resolves once the dashboard replaced the form.
 */
export async function signIn(page: Page, base: string, token: string): Promise<void> {
  if (!(await page.$('input[name=token]'))) await page.goto(`${base}/dashboard`);
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(`${base}/dashboard`), page.click('button[type=submit]')]);
}

/** A new page that records every request leaving `base` and every uncaught page error, for a test to expect none. */
export async function watchedPage(browser: Browser, base: string): Promise<{ page: Page; external: string[]; errors: string[] }> {
  const page = await browser.newPage();
  const external: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) external.push(r.url());
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, external, errors };
}
