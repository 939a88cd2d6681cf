import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startParley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { openStore } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { until } from '../helpers/process.js';

/**
 * A transient sqlite fault: the store's directory disappears for a moment (a remount, a restore),
 * so opening the file fails. Connections opened before keep working; one that failed to open
 * must be opened again once the file is back, not fail forever.
 */
let fake: FakeOpenAI;
const root = mkdtempSync(join(tmpdir(), 'parley-sqlite-fault-'));
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});

describe('sqlite store after a transient fault', () => {
  it('opens a namespace again on the next call after its connection could not be opened', async () => {
    const dir = join(root, 'store-a');
    mkdirSync(dir);
    const store = await openStore(`sqlite://${join(dir, 'parley.sqlite')}`);
    try {
      await store.namespace<number>('first').set('k', 1);
      renameSync(dir, `${dir}.away`);
      const late = store.namespace<number>('late');
      await expect(late.set('k', 2)).rejects.toThrow(/SQLITE_CANTOPEN/);
      await expect(late.get('k')).rejects.toThrow(/SQLITE_CANTOPEN/);
      renameSync(`${dir}.away`, dir);
      await late.set('k', 2);
      expect(await late.get('k')).toBe(2);
      expect(await store.namespace<number>('first').get('k')).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('/readyz reports the store failed while its file cannot be opened, and ready again once it can', async () => {
    const dir = join(root, 'store-b');
    mkdirSync(dir);
    const p = await startParley(loadConfig({ ...fake.env(), STORE_URL: `sqlite://${join(dir, 'parley.sqlite')}`, PORT: '0' }), {
      log: silentLogger(),
      watch: false,
    });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${p.port}/readyz`);
      return { status: res.status, json: (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> } };
    };
    try {
      renameSync(dir, `${dir}.away`);
      const failed = await readyz();
      expect(failed.status).toBe(503);
      expect(failed.json.checks.store).toMatchObject({ ok: false });
      renameSync(`${dir}.away`, dir);
      const ready = await until(
        async () => {
          const r = await readyz();
          return r.status === 200 && r;
        },
        10_000,
        '/readyz to recover',
      );
      expect(ready.json.checks.store).toMatchObject({ ok: true });
    } finally {
      await p.stop();
    }
  });
});
