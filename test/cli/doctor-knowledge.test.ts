import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { diagnoseKnowledge } from '../../src/cli/doctor.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { copyOfExample } from '../knowledge/helpers.js';

/** `parley doctor`'s knowledge checks: what would be indexed, and a broken FAQ file named before `start` trips on it. */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const log = silentLogger();

describe('parley doctor: knowledge', () => {
  it('reports what each folder indexes', async () => {
    const dir = copyOfExample();
    dirs.push(dir);
    const [check, ...rest] = await diagnoseKnowledge(loadConfig({ KNOWLEDGE_DIR: dir }), log);
    expect(check).toMatchObject({ check: 'knowledge default (folder)', ok: true });
    expect(check!.detail).toMatch(/^\d+ files, \d+ passages, \d+ FAQ entries in .* \(\d+ Markdown, \d+ FAQ\)$/);
    expect(Number(/(\d+) FAQ entries/.exec(check!.detail!)![1])).toBeGreaterThan(5);
    // Running as the folder's owner: corrections can be saved, so no warning.
    expect(rest).toEqual([]);
  });

  it('fails on a broken FAQ file, naming the file and line', async () => {
    const dir = copyOfExample();
    dirs.push(dir);
    writeFileSync(join(dir, 'broken.yaml'), '- questions: [How do I start?]\n  answer: [unclosed\n');
    const [check] = await diagnoseKnowledge(loadConfig({ KNOWLEDGE_DIR: dir }), log);
    expect(check).toMatchObject({ check: 'knowledge default (folder)', ok: false, fix: expect.stringContaining('FAQ') });
    expect(check!.detail).toMatch(/broken\.yaml.*line \d+/);
  });

  it('warns, without failing, when there is no knowledge folder', async () => {
    expect(await diagnoseKnowledge(loadConfig({}), log)).toEqual([
      expect.objectContaining({ check: 'knowledge', ok: true, warning: true, fix: expect.stringContaining('KNOWLEDGE_DIR') }),
    ]);
  });

  it('reports a docs site by its sitemap, and a sitemap that does not answer', async () => {
    const server = createServer((req, res) => {
      if (req.url !== '/sitemap.xml') return void res.writeHead(404).end();
      res
        .writeHead(200, { 'content-type': 'application/xml' })
        .end('<urlset><url><loc>http://x.example/a</loc></url><url><loc>http://x.example/b</loc></url></urlset>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const checks = await diagnoseKnowledge(loadConfig({ KNOWLEDGE_URLS: `${base}/sitemap.xml,${base}/missing.xml` }), log);
      expect(checks).toEqual([
        expect.objectContaining({
          check: 'knowledge site (sitemap)',
          ok: true,
          detail: expect.stringMatching(/sitemap\.xml lists 2 pages; .*re-checked every 360 minutes$/),
        }),
        expect.objectContaining({ check: 'knowledge site-2 (sitemap)', ok: false, detail: `${base}/missing.xml answered HTTP 404` }),
      ]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
