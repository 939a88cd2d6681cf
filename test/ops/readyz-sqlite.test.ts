import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startParley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { openStore } from '../../src/store/store.js';
import { IDENTITY_CHECK_MS } from '../../src/store/sqlite.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { until } from '../helpers/process.js';

/**
 * A transient sqlite fault: the store's directory disappears for a moment (a remount, a restore),
 * so the path no longer names the file the connection has open, and opening it fails. Calls fail
 * while it is away (within a second: the connection checks the path that often), and the
 * connection is opened again once the file is back, not failing forever.
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
  it('a first open that fails is tried again on the next call', async () => {
    const dir = join(root, 'store-first');
    mkdirSync(dir);
    const store = await openStore(`sqlite://${join(dir, 'parley.sqlite')}`);
    try {
      renameSync(dir, `${dir}.away`);
      await expect(store.namespace<number>('a').set('k', 1)).rejects.toThrow(/SQLITE_CANTOPEN/);
      await expect(store.namespace<number>('a').get('k')).rejects.toThrow(/SQLITE_CANTOPEN/);
      renameSync(`${dir}.away`, dir);
      await store.namespace<number>('a').set('k', 1);
      expect(await store.namespace<number>('a').get('k')).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('notices the file moved away under an open connection, fails while it is away, and opens it again once it is back', async () => {
    const dir = join(root, 'store-a');
    mkdirSync(dir);
    const store = await openStore(`sqlite://${join(dir, 'parley.sqlite')}`);
    try {
      await store.namespace<number>('first').set('k', 1);
      renameSync(dir, `${dir}.away`);
      const late = store.namespace<number>('late');
      const failure = await until<Error>(
        () =>
          late.set('k', 2).then(
            () => false as const,
            (err: Error) => err,
          ),
        5_000,
        'a write to fail while the file is away',
      );
      expect(failure.message).toMatch(/SQLITE_CANTOPEN/);
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
      // The connection checks the path at most this often; the first report after that is cached.
      await new Promise((r) => setTimeout(r, IDENTITY_CHECK_MS + 100));
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
