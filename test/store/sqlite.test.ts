import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { IDENTITY_CHECK_MS, SqliteAdapter, SqliteFile } from '../../src/store/sqlite.js';

/**
 * What the sqlite store does beyond the shared contract (test/store/store.contract.test.ts):
 * its file layout, read back with a connection of the test's own.
 */
const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newFile = () => join(dir, `s${++n}.sqlite`);

/** `read` on a read-only connection of the test's own to `file`, closed afterwards. */
function readFile<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('sqlite store', () => {
  it('writes a write-ahead log with normal syncing, and keeps the table layout of earlier versions', async () => {
    const file = newFile();
    const store = await openStore(`sqlite://${file}`);
    await store.namespace<string>('history').set('k', 'v');
    try {
      expect(readFile(file, (raw) => raw.pragma('journal_mode', { simple: true }))).toBe('wal');
      expect(readFile(file, (raw) => raw.prepare('SELECT key, value FROM parley').all())).toEqual([
        { key: 'parley:history:k', value: JSON.stringify({ value: 'v' }) },
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps one small row per timeline member: an add writes one row, not the whole timeline', async () => {
    const file = newFile();
    const store = await openStore(`sqlite://${file}`);
    const t0 = Date.now();
    for (let i = 0; i < 300; i++) await store.addToTimeline('open-threads', `api:T1:C1:${i}`, t0 + i, 86_400_000);
    await store.removeFromTimeline('open-threads', 'api:T1:C1:7');
    try {
      const rows = readFile(file, (raw) => raw.prepare("SELECT key, length(value) AS size FROM parley WHERE key LIKE 'parley:timeline%'").all()) as {
        key: string;
        size: number;
      }[];
      expect(rows).toHaveLength(299);
      expect(Math.max(...rows.map((r) => r.size))).toBeLessThan(100);
      expect(rows.some((r) => r.key.endsWith('api:T1:C1:7'))).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('reads a timeline an earlier version wrote whole, and keeps it as rows from then on', async () => {
    const file = newFile();
    const t0 = Date.now();
    const first = await openStore(`sqlite://${file}`);
    await first.namespace('timelines').set('review', { r0: t0 - 5, r1: t0, r2: t0 + 1 }, 86_400_000);
    // r0 also has a row of its own, written since: the row is newer and wins.
    await first.namespace<number>('timeline:review').set('r0', t0 + 5);
    await first.close();
    const store = await openStore(`sqlite://${file}`);
    try {
      await store.addToTimeline('review', 'r3', t0 + 2, 86_400_000);
      expect((await store.timeline('review', 0, t0 + 10)).map((e) => e.member)).toEqual(['r1', 'r2', 'r3', 'r0']);
      expect(await store.namespace('timelines').get('review')).toBeUndefined();
    } finally {
      await store.close();
    }
    const again = await openStore(`sqlite://${file}`);
    try {
      expect((await again.timeline('review', 0, t0 + 10)).map((e) => e.member)).toEqual(['r1', 'r2', 'r3', 'r0']);
    } finally {
      await again.close();
    }
  });

  it('reads the claims and counters an earlier version wrote through Keyv, and writes them as it did', async () => {
    const file = newFile();
    const first = await openStore(`sqlite://${file}`);
    // As versions before issue 19 wrote them: through Keyv namespaces (an owner starting with ':' escaped by Keyv).
    await first.namespace('counters').set('day', { n: 5, expiresAt: Date.now() + 60_000 }, 60_000);
    await first.namespace('claims').set('lock', ':owner-1', 60_000);
    await first.close();
    const store = await openStore(`sqlite://${file}`);
    try {
      expect(await store.increment('day', 1, 60_000)).toBe(6);
      expect(await store.claim('lock', 60_000, 'someone else')).toBe(false);
      expect(await store.renew('lock', 60_000, ':owner-1')).toBe(true);
      expect(await store.namespace<{ n: number }>('counters').get('day')).toMatchObject({ n: 6 });
      expect(await store.namespace('claims').get('lock')).toBe(':owner-1');
    } finally {
      await store.close();
    }
  });

  it('clears a namespace by its exact name (no LIKE wildcards) and lists namespaces of more than a page', async () => {
    const store = await openStore(`sqlite://${newFile()}`);
    try {
      const a = store.namespace<number>('a_b');
      const b = store.namespace<number>('axb');
      for (let i = 0; i < 250; i++) await a.set(`k${i}`, i);
      await b.set('kept', 1);
      const listed: string[] = [];
      for await (const [k] of store.entries('a_b')) listed.push(k);
      expect(listed.sort()).toEqual(Array.from({ length: 250 }, (_, i) => `k${i}`).sort());
      await a.clear();
      expect(await a.get('k1')).toBeUndefined();
      expect(await b.get('kept')).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('writes to the file at its path again once the open one was deleted, not to a file nobody will read', async () => {
    const file = newFile();
    const store = await openStore(`sqlite://${file}`);
    try {
      await store.namespace<number>('n').set('before', 1);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      await new Promise((r) => setTimeout(r, IDENTITY_CHECK_MS + 100));
      await store.namespace<number>('n').set('after', 2);
      expect(existsSync(file)).toBe(true);
      expect(readFile(file, (raw) => raw.prepare('SELECT key FROM parley').pluck().all())).toEqual(['parley:n:after']);
    } finally {
      await store.close();
    }
  });

  it('rejects a write that cannot take the write lock (another process holds it), and writes again once it is free', async () => {
    const path = newFile();
    const file = new SqliteFile(path, 50);
    const adapter = new SqliteAdapter(file);
    await adapter.set('warm', '1');
    const other = new Database(path);
    const read = (key: string) => other.prepare('SELECT value FROM parley WHERE key = ?').pluck().get(key);
    expect(read('warm')).toBe('1');
    try {
      other.exec('BEGIN IMMEDIATE');
      await expect(adapter.set('k', 'v')).rejects.toThrow(/SQLITE_BUSY/);
      other.exec('COMMIT');
      await adapter.set('k', 'v');
      expect(read('k')).toBe('v');
    } finally {
      other.close();
      await file.close();
    }
  });

  it("commits a turn's writes together: another connection sees none of them before the turn ends, and all once they resolve", async () => {
    const path = newFile();
    const store = await openStore(`sqlite://${path}`);
    const kv = store.namespace<number>('n');
    await kv.set('warm', 0);
    const other = new Database(path, { readonly: true });
    try {
      const count = () => other.prepare("SELECT count(*) FROM parley WHERE key LIKE 'parley:n:k%' OR key LIKE 'parley:counters:%'").pluck().get();
      // Keyv calls the adapter a few microtasks after `set`: the writes are applied once the current microtasks have run.
      const writes = [...Array.from({ length: 20 }, (_, i) => kv.set(`k${i}`, i)), store.increment('c', 1, 60_000), store.increment('c', 1, 60_000)];
      await new Promise<void>((r) => queueMicrotask(r));
      for (let i = 0; i < 10; i++) await Promise.resolve();
      expect(count()).toBe(0);
      // A read-modify-write reads the turn's own writes before they are committed.
      expect(await store.increment('c', 0, 60_000)).toBe(2);
      await Promise.all(writes);
      expect(count()).toBe(21);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('claims a key once across processes sharing the file (the read and the write hold the write lock)', async () => {
    const path = newFile();
    const store = await openStore(`sqlite://${path}`);
    await store.claim('warm', 60_000, 'parent'); // the file exists before the child opens it
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${i}`);
    const storeModule = pathToFileURL(resolve('dist/store/store.js')).href;
    const script = `const { openStore } = await import(${JSON.stringify(storeModule)});
      const s = await openStore(${JSON.stringify(`sqlite://${path}`)});
      await s.claim('child-warm', 60000, 'child');
      process.stderr.write('ready');
      await new Promise((r) => process.stdin.once('data', r));
      const won = [];
      for (const k of ${JSON.stringify(keys)}) if (await s.claim(k, 60000, 'child')) won.push(k);
      await s.close();
      process.stdout.write(JSON.stringify(won));`;
    try {
      const child = execFile(process.execPath, ['--input-type=module', '-e', script]);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      await new Promise((r) => child.stderr!.once('data', r));
      child.stdin!.end('go\n'); // both start claiming the same keys, in the same order, at once
      const parentWon: string[] = [];
      for (const k of keys) if (await store.claim(k, 60_000, 'parent')) parentWon.push(k);
      expect(await exited).toBe(0);
      const childWon = JSON.parse(out) as string[];
      expect([...parentWon, ...childWon].sort()).toEqual([...keys].sort());
    } finally {
      await store.close();
    }
  });
});
