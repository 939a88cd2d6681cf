import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { citationOf, KnowledgeBase, type KnowledgeSource } from '../../../src/knowledge/base.js';
import { openStore } from '../../../src/store/store.js';
import { captureLogger, makePdf } from './helpers.js';

/**
 * A docs site served by a real local HTTP server: a sitemap index (that also names itself), a
 * robots.txt, pages with ETag or Last-Modified, and the broken pages real sites have.
 */
const dir = mkdtempSync(join(tmpdir(), 'parley-kb-site-'));
let server: Server;
let base: string;
const requests: { path: string; ifNoneMatch?: string; ifModifiedSince?: string; status: number; userAgent?: string }[] = [];
let refundsVersion = 1;
let pdf: Uint8Array;
const PDF_MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT';

const refundsHtml = () => `<html><head><title>Refunds - Acme Docs</title></head><body>
<nav>Docs home · Refunds · Invoices</nav><script>window.analytics = 1</script>
<article><h1>Refunds</h1><p>Read this before asking for your money back.</p>
<h2>Annual plans</h2><p>${refundsVersion === 1 ? 'Annual plans are refunded within thirty days.' : 'Annual plans are refunded within forty five days.'}</p></article>
<footer>© Acme</footer></body></html>`;

function handle(req: IncomingMessage, send: (status: number, headers: Record<string, string | number>, body?: string | Uint8Array) => void): void {
  const path = req.url!;
  if (path === '/robots.txt') return send(200, { 'content-type': 'text/plain' }, 'User-agent: *\nDisallow: /private/\n');
  if (path === '/sitemap.xml') {
    return send(
      200,
      { 'content-type': 'application/xml' },
      `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>${base}/sitemap-docs.xml</loc></sitemap><sitemap><loc>${base}/sitemap.xml</loc></sitemap></sitemapindex>`,
    );
  }
  if (path === '/sitemap-docs.xml') {
    const urls = ['/docs/refunds', '/docs/manual.pdf', '/private/salaries', '/docs/gone', '/docs/blank', '/docs/huge'];
    return send(
      200,
      { 'content-type': 'application/xml' },
      `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls.map((u) => `<url><loc>${base}${u}</loc></url>`).join('')}</urlset>`,
    );
  }
  if (path === '/docs/refunds') {
    const etag = `"refunds-v${refundsVersion}"`;
    if (req.headers['if-none-match'] === etag) return send(304, { etag });
    return send(200, { 'content-type': 'text/html; charset=utf-8', etag }, refundsHtml());
  }
  if (path === '/docs/manual.pdf') {
    if (req.headers['if-modified-since'] === PDF_MODIFIED) return send(304, { 'last-modified': PDF_MODIFIED });
    return send(200, { 'content-type': 'application/pdf', 'last-modified': PDF_MODIFIED }, pdf);
  }
  if (path === '/docs/blank') return send(200, { 'content-type': 'text/html' }, '<html><body><nav>Home</nav><script>1</script></body></html>');
  return send(404, { 'content-type': 'text/plain' }, 'not found');
}

beforeAll(async () => {
  pdf = await makePdf(
    [
      ['Setup', 'Plug the kettle in.'],
      ['Descaling', 'Descale the kettle every three months with citric acid.'],
    ],
    'Kettle manual',
  );
  server = createServer((req, res) => {
    if (req.url === '/docs/huge') {
      // 50 MB streamed without a Content-Length: the reader must stop at its limit.
      requests.push({ path: req.url, status: 200 });
      res.writeHead(200, { 'content-type': 'text/html' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      let sent = 0;
      const pump = () => {
        while (sent < 50 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      return pump();
    }
    handle(req, (status, headers, body) => {
      requests.push({
        path: req.url!,
        status,
        ifNoneMatch: req.headers['if-none-match'],
        ifModifiedSince: req.headers['if-modified-since'],
        userAgent: req.headers['user-agent'],
      });
      res.writeHead(status, headers);
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('a docs site given by its sitemap', () => {
  it('indexes its pages politely, skips bad ones with one warning each, re-checks with ETag/Last-Modified, and a restart fetches nothing', async () => {
    const source: KnowledgeSource = { name: 'site', dir: '', displayPath: `${base}/sitemap.xml`, sitemap: `${base}/sitemap.xml`, refreshMinutes: 60 };
    const storeUrl = `sqlite://${join(dir, 'store.sqlite')}`;
    let store = await openStore(storeUrl);
    const first = captureLogger();
    const kb = new KnowledgeBase([source], { log: first.log, chunk: { maxChars: 1500, minChars: 0 }, siteCache: store.namespace('knowledge-sites') });
    await kb.load();

    // Citations point at the page URL and its section, or the PDF page.
    const [refund] = await kb.search('Are annual plans refunded?');
    expect(citationOf(refund!.passage)).toEqual({
      id: `site:${base}/docs/refunds#annual-plans`,
      title: 'Refunds › Annual plans',
      location: `${base}/docs/refunds#annual-plans`,
    });
    expect(refund!.passage.text).toContain('within thirty days');
    const [descale] = await kb.search('How often should I descale the kettle?');
    expect(citationOf(descale!.passage)).toMatchObject({ title: 'Kettle manual › page 2', location: `${base}/docs/manual.pdf#page=2` });
    const page = (await kb.search('refunds annual plans money back', { k: 10 })).filter((h) => h.passage.path === `${base}/docs/refunds`);
    expect(page).toHaveLength(2);
    for (const h of page) expect(h.passage.text).not.toMatch(/analytics|Docs home|©/);

    // Polite: robots.txt read once and obeyed, every request names the bot.
    expect(requests.filter((r) => r.path === '/robots.txt')).toHaveLength(1);
    expect(requests.some((r) => r.path.startsWith('/private/'))).toBe(false);
    expect(requests.every((r) => r.path === '/docs/huge' || /^ParleyBot\//.test(r.userAgent ?? ''))).toBe(true);

    // Bad input: one warning each, naming the URL.
    const w = first.warnings().map((l) => `${(l.url ?? l.sitemap) as string} ${l.msg}`);
    expect(w.sort()).toEqual(
      [
        `${base}/docs/blank knowledge page skipped: no text`,
        `${base}/docs/gone knowledge page skipped: HTTP 404`,
        `${base}/docs/huge knowledge page skipped: cannot be read`,
        `${base}/sitemap.xml sitemap loop skipped: this sitemap was already read`,
      ].sort(),
    );
    expect(first.warnings().find((l) => l.url === `${base}/docs/huge`)!.err).toMatch(/size limit/);
    expect(kb.stats.files).toBe(2);

    // The scheduled re-check: conditional requests; the changed page is fetched again, the PDF costs a 304.
    refundsVersion = 2;
    const before = requests.length;
    await kb.recheckSites();
    const recheck = requests.slice(before);
    expect(recheck.find((r) => r.path === '/docs/refunds')).toMatchObject({ ifNoneMatch: '"refunds-v1"', status: 200 });
    expect(recheck.find((r) => r.path === '/docs/manual.pdf')).toMatchObject({ ifModifiedSince: PDF_MODIFIED, status: 304 });
    expect((await kb.search('Are annual plans refunded?'))[0]!.passage.text).toContain('within forty five days');
    kb.close();
    await store.close();

    // A restart on the same store: the index comes from the cache, nothing is fetched.
    store = await openStore(storeUrl);
    const seen = requests.length;
    const again = new KnowledgeBase([source], {
      log: captureLogger().log,
      chunk: { maxChars: 1500, minChars: 0 },
      siteCache: store.namespace('knowledge-sites'),
    });
    await again.load();
    expect(requests.length).toBe(seen);
    expect(again.version).toBe(kb.version);
    expect((await again.search('Are annual plans refunded?'))[0]!.passage.text).toContain('within forty five days');
    again.close();
    await store.close();
  });
});
