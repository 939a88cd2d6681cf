import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { launchChromium, signIn, watchedPage } from './browser.js';
import { seedWeek } from './seed.js';

/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * sign in with ADMIN_TOKEN, then the charts drawn by the bot's own Chart.js from a seeded store.
 */
const TOKEN = 'dashboard-admin-token-0123456789';
const CHARTS = ['chart-volume', 'chart-sources', 'chart-quality', 'chart-latency', 'chart-cost'];

let parley: Parley;
let browser: Browser;
let base: string;
let expected: { questions: number; declined: number; handoffs: number };

beforeAll(async () => {
  browser = await launchChromium();
  parley = await startParley(loadConfig({ STORE_URL: 'memory://', PORT: '0', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'silent' }), {
    log: silentLogger(),
    platforms: false,
    watch: false,
  });
  base = `http://127.0.0.1:${parley.port}`;
  expected = await seedWeek(parley.support.analytics, Date.now());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
});

describe('dashboard', () => {
  it('refuses the data without the token, serves it with a bearer token, and serves Chart.js from node_modules', async () => {
    expect((await fetch(`${base}/dashboard/data`)).status).toBe(401);
    expect((await fetch(`${base}/dashboard/data`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    const res = await fetch(`${base}/dashboard/data?since=7d`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const report = (await res.json()) as any;
    expect(report.totals).toMatchObject({ questions: expected.questions, handoffs: 1 });
    expect(report.totals.sources.declined).toBe(expected.declined);
    expect(report.unanswered[0]).toMatchObject({ question: 'Can I export invoices to PDF?', unanswered: 7 });

    const lib = await fetch(`${base}/dashboard/assets/chart.umd.min.js`);
    const main = createRequire(import.meta.url).resolve('chart.js');
    expect(Buffer.from(await lib.arrayBuffer()).equals(readFileSync(join(dirname(main), 'chart.umd.min.js')))).toBe(true);
  });

  it('signs in with the admin token and draws every chart and the unanswered table from the store', async () => {
    const { page, external, errors } = await watchedPage(browser, base);
    try {
      const first = await page.goto(`${base}/dashboard`);
      expect(first?.status()).toBe(401);
      await page.fill('input[name=token]', 'not-the-token-0123456789');
      await page.click('button[type=submit]');
      await page.waitForSelector('.error');
      await signIn(page, base, TOKEN);
      await page.waitForSelector('body[data-loaded=true]', { timeout: 20_000 });

      expect(await page.textContent('#kpi-questions')).toBe(String(expected.questions));
      expect(await page.textContent('#kpi-handoffs')).toBe('1');
      // Runs in the page (the test's tsconfig has no DOM types, hence `any`).
      const charts = await page.evaluate((ids) => {
        const w = globalThis as any;
        const Chart = w.Chart;
        return ids.map((id) => {
          const canvas = w.document.getElementById(id);
          const chart = Chart.getChart(canvas);
          const pixels: Uint8ClampedArray = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) painted++;
          return {
            id,
            type: chart?.config.type as string | undefined,
            labels: chart?.data.labels as string[],
            datasets: chart?.data.datasets.map((d: any) => ({ label: d.label, data: d.data })) as { label: string; data: any[] }[],
            painted,
            width: canvas.width as number,
          };
        });
      }, CHARTS);
      for (const c of charts) {
        expect(c.type, c.id).toBeDefined();
        expect(c.width, c.id).toBeGreaterThan(0);
        expect(c.painted, `${c.id} has drawn pixels`).toBeGreaterThan(500);
      }
      const volume = charts.find((c) => c.id === 'chart-volume')!;
      expect(volume.labels).toHaveLength(8); // 7 days back to today, inclusive
      const perSource: Record<string, number> = Object.fromEntries(volume.datasets.map((d) => [d.label, (d.data as number[]).reduce((a, b) => a + b, 0)]));
      expect(perSource.declined).toBe(expected.declined);
      expect(perSource.faq).toBe(7);
      expect(Object.values(perSource).reduce((a, b) => a + b, 0)).toBe(expected.questions);
      const latency = charts.find((c) => c.id === 'chart-latency')!;
      expect(latency.datasets!.map((d: any) => d.label)).toEqual(['p50', 'p95']);
      expect((latency.datasets![1]!.data as (number | null)[]).some((v) => v !== null && v > 0)).toBe(true);
      const cost = charts.find((c) => c.id === 'chart-cost')!;
      expect((cost.datasets![1]!.data as number[]).reduce((a, b) => a + b, 0)).toBe(expected.handoffs);

      const rows = await page.$$eval('#unanswered tbody tr', (trs) =>
        trs.map((tr: any) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent as string)),
      );
      expect(rows[0]).toEqual(['Can I export invoices to PDF?', 'support', '7', '7', '0', '0']);
      expect(rows.some((r) => r[0] === 'I was charged twice' && r[5] === '1')).toBe(true);
      expect(external).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
