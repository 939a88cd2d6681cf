import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { citationOf, KnowledgeBase } from '../../../src/knowledge/base.js';
import { captureLogger, makePdf } from './helpers.js';

/** A folder of the formats teams export, plus the bad files such folders also hold. */
const dir = mkdtempSync(join(tmpdir(), 'parley-kb-formats-'));
const source = { name: 'docs', dir, displayPath: 'docs' };

beforeAll(async () => {
  mkdirSync(join(dir, 'help'));
  writeFileSync(join(dir, 'shipping.txt'), 'Shipping times\n\nParcels to Portugal arrive within four working days.\n\nExpress parcels arrive the next day.\n');
  writeFileSync(
    join(dir, 'help/billing.html'),
    `<!doctype html><html><head><title>Billing | Acme Help</title><style>.x{color:red}</style><script>var trackingpixel = 1;</script></head>
<body><header><a href="/">Acme home</a></header><nav><a href="/a">Navigationlink sitewide</a></nav>
<main><h1>Billing</h1><p>Everything about paying Acme.</p>
<h2>Refunds</h2><p>Annual plans are refunded within thirty days of purchase.</p>
<aside>Sidebar promotion banner</aside>
<h2>Invoices</h2><p>Invoices are emailed on the first day of each month.</p><ul><li>PDF copies stay in Settings</li><li>Download them any time</li></ul>
</main><footer>Copyright footerline Acme</footer></body></html>`,
  );
  writeFileSync(
    join(dir, 'manual.pdf'),
    await makePdf(
      [
        ['Installation guide', 'Run the installer and accept the licence.'],
        ['Warranty', 'The espresso machine warranty lasts 24 months.'],
      ],
      'Espresso manual',
    ),
  );
  writeFileSync(join(dir, 'broken.pdf'), '%PDF-1.7\nthis is not really a pdf at all\n%%EOF\n');
  writeFileSync(
    join(dir, 'help/empty.html'),
    '<html><head><title>Nothing</title><script>var onlyscript = 1;</script></head><body><nav><a href="/">Home</a></nav><footer>Footer</footer></body></html>',
  );
  // 50 MB without writing 50 MB: a sparse file has the size a stat reports.
  writeFileSync(join(dir, 'export.md'), '# Export\n');
  truncateSync(join(dir, 'export.md'), 50 * 1024 * 1024);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a knowledge folder of text, HTML and PDF files', () => {
  it('indexes each format, cites PDF pages and HTML sections, and skips each bad file with one warning naming it', async () => {
    const { log, warnings } = captureLogger();
    // Short sections stay sections of their own (minChars 0), as they would be at real length.
    const kb = new KnowledgeBase([source], { log, chunk: { maxChars: 1500, minChars: 0 } });
    await kb.load();

    // Plain text.
    const [ship] = await kb.search('How long does shipping to Portugal take?');
    expect(ship!.passage).toMatchObject({ path: 'shipping.txt', location: 'docs/shipping.txt' });

    // HTML: main content only, headings as sections, the <h1> as page title.
    const [refund] = await kb.search('Are annual plans refunded?');
    expect(citationOf(refund!.passage)).toEqual({
      id: 'docs:help/billing.html#refunds',
      title: 'Billing › Refunds',
      location: 'docs/help/billing.html#refunds',
    });
    const html = (await kb.search('Billing invoices refunds paying emailed copies', { k: 10 })).filter((h) => h.passage.path === 'help/billing.html');
    expect(html.map((h) => h.passage.anchor).sort()).toEqual(['', 'invoices', 'refunds']);
    const text = html.map((h) => h.passage.text).join('\n');
    expect(text).toContain('Invoices are emailed on the first day of each month.');
    expect(text).toContain('- PDF copies stay in Settings');
    for (const noise of ['trackingpixel', 'Navigationlink', 'footerline', 'Sidebar promotion', 'Acme home', 'color:red']) expect(text).not.toContain(noise);
    expect(await kb.search('Navigationlink footerline trackingpixel')).toEqual([]);

    // PDF: the text layer, one passage per page, cited by page.
    const [warranty] = await kb.search('How long is the espresso machine warranty?');
    expect(citationOf(warranty!.passage)).toEqual({ id: 'docs:manual.pdf#page-2', title: 'Espresso manual › page 2', location: 'docs/manual.pdf#page=2' });
    expect(warranty!.passage.text).toContain('The espresso machine warranty lasts 24 months.');
    const [install] = await kb.search('installer licence');
    expect(install!.passage.location).toBe('docs/manual.pdf#page=1');

    // Bad files: one warning each, naming the file; the rest loaded.
    const w = warnings();
    expect(w.map((l) => l.file).sort()).toEqual(['docs/broken.pdf', 'docs/export.md', 'docs/help/empty.html']);
    expect(w.find((l) => l.file === 'docs/export.md')!.msg).toMatch(/size limit/);
    expect(w.find((l) => l.file === 'docs/broken.pdf')!.msg).toMatch(/cannot be read/);
    expect(w.find((l) => l.file === 'docs/help/empty.html')!.msg).toMatch(/no text/);
    expect(kb.stats.files).toBe(3);
    kb.close();
  });
});
