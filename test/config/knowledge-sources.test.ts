import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { loadConfigFile } from '../../src/config/file.js';
import { resolveSettings } from '../../src/config/settings.js';

/** Where knowledge comes from: folders and docs sites, from the environment or the config file. */
describe('knowledge sources in the settings', () => {
  it('KNOWLEDGE_URLS gives one sitemap source per URL beside KNOWLEDGE_DIR', () => {
    const s = resolveSettings(
      loadConfig({ KNOWLEDGE_DIR: 'docs', KNOWLEDGE_URLS: 'https://docs.a.example/sitemap.xml, https://b.example/sitemap.xml' }),
      undefined,
      '/srv',
    );
    expect(s.knowledge.sources).toEqual([
      { name: 'default', dir: resolve('/srv/docs'), displayPath: 'docs', configKey: 'KNOWLEDGE_DIR' },
      {
        name: 'site',
        dir: '',
        displayPath: 'https://docs.a.example/sitemap.xml',
        sitemap: 'https://docs.a.example/sitemap.xml',
        refreshMinutes: 360,
        configKey: 'KNOWLEDGE_URLS',
        url: undefined,
      },
      {
        name: 'site-2',
        dir: '',
        displayPath: 'https://b.example/sitemap.xml',
        sitemap: 'https://b.example/sitemap.xml',
        refreshMinutes: 360,
        configKey: 'KNOWLEDGE_URLS',
        url: undefined,
      },
    ]);
    expect(() => loadConfig({ KNOWLEDGE_URLS: 'docs.example.com/sitemap.xml' })).toThrow(/KNOWLEDGE_URLS/);
  });

  it('a config source is a folder (path) or a site (sitemap, refreshMinutes), never both', () => {
    const file = loadConfigFile(
      'parley.config.yaml',
      {},
      'knowledge:\n  sources:\n    site: { sitemap: https://docs.example.com/sitemap.xml, refreshMinutes: 30 }\n',
    );
    expect(resolveSettings(loadConfig({}), file, '/srv').knowledge.sources).toEqual([
      expect.objectContaining({
        name: 'site',
        sitemap: 'https://docs.example.com/sitemap.xml',
        refreshMinutes: 30,
        configKey: 'knowledge.sources.site.sitemap',
      }),
    ]);
    expect(() =>
      loadConfigFile('parley.config.yaml', {}, 'knowledge:\n  sources:\n    both: { path: docs, sitemap: https://x.example/sitemap.xml }\n'),
    ).toThrow(/knowledge\.sources\.both.*either path .* or sitemap/);
    expect(() => loadConfigFile('parley.config.yaml', {}, 'knowledge:\n  sources:\n    neither: { url: https://x.example }\n')).toThrow(/either path/);
  });
});
