import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { LiveSettings } from '../../src/config/live-settings.js';
import type { Settings } from '../../src/config/settings.js';
import { createLogger } from '../../src/kernel/logger.js';

const good = (model: string) => `
models:
  ${model}: { provider: env, contextWindow: 16000 }
providers:
  env: { baseUrl: http://127.0.0.1:9/v1 }
profiles:
  default: { model: ${model} }
routing:
  - { match: { channel: C1 }, profile: default }
`;

describe('config file reload', () => {
  let dir: string;
  let logs: Record<string, unknown>[];
  let live: LiveSettings;
  const log = () => createLogger({ level: 'debug', content: false, destination: { write: (s: string) => logs.push(JSON.parse(s)) } });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-config-'));
    logs = [];
    writeFileSync(join(dir, 'parley.config.yaml'), good('model-a'));
    live = LiveSettings.load(loadConfig({ PARLEY_CONFIG: 'parley.config.yaml' }), { log: log(), env: {}, cwd: dir });
  });
  afterEach(() => {
    live.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a valid edit and keeps the last good config on an invalid one, logging the key and line', () => {
    expect(live.current.profiles.get('default')!.model).toBe('model-a');
    writeFileSync(join(dir, 'parley.config.yaml'), good('model-b'));
    expect(live.reload()).toBe(true);
    expect(live.current.profiles.get('default')).toMatchObject({ model: 'model-b', contextWindow: 16000 });

    writeFileSync(join(dir, 'parley.config.yaml'), good('model-b').replace('profile: default', 'profile: nobody'));
    expect(live.reload()).toBe(false);
    expect(live.current.profiles.get('default')!.model).toBe('model-b');
    expect(live.current.rules[0]!.profile).toBe('default');
    const warning = logs.find((l) => l.msg === 'config file invalid; keeping the last good config')!;
    expect(warning).toMatchObject({ key: 'routing.0.profile', err: expect.stringMatching(/unknown profile "nobody".*line 9\)/) });
  });

  it('reloads by itself when the file changes on disk (good edit, then bad edit)', async () => {
    live.watch(10);
    const changed = new Promise<Settings>((r) => live.once('change', r));
    writeFileSync(join(dir, 'parley.config.yaml'), good('model-c'));
    expect((await changed).profiles.get('default')!.model).toBe('model-c');

    const invalid = new Promise<unknown>((r) => live.once('invalid', r));
    writeFileSync(join(dir, 'parley.config.yaml'), 'profiles: [not, a, map');
    await invalid;
    expect(live.current.profiles.get('default')!.model).toBe('model-c');
  });
});
