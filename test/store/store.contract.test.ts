import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import type { MemoryStore } from '../../src/store/memory.js';
import { HistoryStore } from '../../src/store/history.js';
import { conversationKey, type Turn } from '../../src/kernel/types.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/**
 * Every backend passes the same suite (as Keyv's adapters do): memory, sqlite and Redis.
 * `reopen` opens the same data again, as a restarted process would.
 */
const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Backend {
  name: string;
  open(): Promise<{ store: Store; reopen?: () => Promise<Store> }>;
}

const backends: Backend[] = [
  { name: 'memory', open: async () => ({ store: await openStore('memory://') }) },
  {
    name: 'sqlite',
    open: async () => {
      const url = `sqlite://${join(dir, `${uniquePrefix('db').replaceAll(':', '-')}.sqlite`)}`;
      return { store: await openStore(url), reopen: () => openStore(url) };
    },
  },
  {
    name: 'redis',
    open: async () => {
      const keyPrefix = uniquePrefix('store');
      return { store: await openStore(REDIS_URL, { keyPrefix }), reopen: () => openStore(REDIS_URL, { keyPrefix }) };
    },
  },
];

const key = conversationKey({ platform: 'slack', workspace: 'T1', channel: 'C1', thread: '1.0001' });
const turn = (role: Turn['role'], content: string): Turn => ({ role, content, at: Date.now() });

describe.each(backends)('store contract: $name', (backend) => {
  let store: Store;
  let reopen: (() => Promise<Store>) | undefined;
  const extra: Store[] = [];
  beforeEach(async () => {
    ({ store, reopen } = await backend.open());
  });
  afterEach(async () => {
    await store.close();
    await Promise.all(extra.splice(0).map((s) => s.close()));
  });

  it("lists a namespace's entries with their keys exactly as set, and a deleted entry is gone", async () => {
    const a = store.namespace<number>('listed');
    await store.namespace<number>('other').set('x', 9);
    await a.set('one', 1);
    await a.set('listed:two', 2);
    await a.set('inst:conv:m3', 3);
    const seen = async () => {
      const out: [string, number][] = [];
      for await (const e of store.entries<number>('listed')) out.push(e);
      return out.sort(([x], [y]) => x.localeCompare(y));
    };
    expect(await seen()).toEqual([
      ['inst:conv:m3', 3],
      ['listed:two', 2],
      ['one', 1],
    ]);
    // A key read back from the listing deletes its entry (crash recovery relies on it).
    for (const [k] of await seen()) await a.delete(k);
    expect(await seen()).toEqual([]);
  });

  it('round-trips JSON values in a namespace, isolated from other namespaces', async () => {
    const a = store.namespace<{ n: number; list: string[] }>('a');
    const b = store.namespace<{ n: number; list: string[] }>('b');
    await a.set('k', { n: 1, list: ['x', 'y'] });
    expect(await a.get('k')).toEqual({ n: 1, list: ['x', 'y'] });
    expect(await b.get('k')).toBeUndefined();
    expect(await a.delete('k')).toBe(true);
    expect(await a.get('k')).toBeUndefined();
  });

  it('expires values after their TTL', async () => {
    const kv = store.namespace<string>('ttl');
    await kv.set('warm-up', 'opens the connection and table first');
    await kv.set('short', 'v', 400);
    expect(await kv.get('short')).toBe('v');
    await new Promise((r) => setTimeout(r, 500));
    expect(await kv.get('short')).toBeUndefined();
  });

  it('claims a key exactly once among concurrent callers, until it expires', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claim('event:E1', 200, `owner-${i}`)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.claim('event:E1', 200)).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.claim('event:E1', 200)).toBe(true);
  });

  it('renews and releases only for the owner', async () => {
    expect(await store.claim('lock:c', 150, 'me')).toBe(true);
    expect(await store.renew('lock:c', 500, 'someone-else')).toBe(false);
    expect(await store.renew('lock:c', 500, 'me')).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect(await store.claim('lock:c', 150, 'other')).toBe(false);
    await store.release('lock:c', 'someone-else');
    expect(await store.claim('lock:c', 150, 'other')).toBe(false);
    await store.release('lock:c', 'me');
    expect(await store.claim('lock:c', 150, 'other')).toBe(true);
  });

  it('increments counters atomically among concurrent callers, expiring after the TTL', async () => {
    const values = await Promise.all(Array.from({ length: 25 }, () => store.increment('tokens:U1', 3, 60_000)));
    // Every caller saw a distinct total: no lost updates.
    expect(new Set(values).size).toBe(25);
    expect(Math.max(...values)).toBe(75);
    expect(await store.increment('tokens:U1', 0, 60_000)).toBe(75);
    expect(await store.increment('tokens:U2', 0, 60_000)).toBe(0);
    await store.increment('short', 5, 60);
    await new Promise((r) => setTimeout(r, 150));
    expect(await store.increment('short', 1, 60)).toBe(1);
  });

  it('reserves against a limit atomically: concurrent callers pass it by less than one reservation', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => store.reserve('budget:K1', 60, 300, 60_000)));
    // 0, 60, …, 240 are below 300: five reservations, then the counter is full.
    expect(results.filter((r) => r.granted)).toHaveLength(5);
    expect(results.filter((r) => !r.granted).every((r) => r.value === 300)).toBe(true);
    expect(await store.increment('budget:K1', 0, 60_000)).toBe(300);
    // Settling gives back what was not used; a counter below the limit grants again, overshooting by at most one reservation.
    expect(await store.increment('budget:K1', -50, 60_000)).toBe(250);
    expect(await store.reserve('budget:K1', 60, 300, 60_000)).toEqual({ granted: true, value: 310 });
    expect(await store.reserve('budget:K1', 1, 300, 60_000)).toEqual({ granted: false, value: 310 });
    // Shares the counter with increment, and expires like it.
    expect(await store.reserve('budget:short', 5, 10, 60)).toEqual({ granted: true, value: 5 });
    await new Promise((r) => setTimeout(r, 150));
    expect(await store.increment('budget:short', 0, 60)).toBe(0);
  });

  it('admits at most `limit` hits per sliding window, even concurrently, and says when to retry', async () => {
    const t0 = 1_000_000;
    const hits = await Promise.all(Array.from({ length: 8 }, () => store.hitWindow('rate:U1', 5, 60_000, t0)));
    expect(hits.filter((h) => h.allowed)).toHaveLength(5);
    const refused = await store.hitWindow('rate:U1', 5, 60_000, t0 + 10_000);
    expect(refused).toEqual({ allowed: false, count: 5, retryAfterMs: 50_000 });
    // Sliding, not fixed: once the first hits are older than the window there is room again.
    const later = await store.hitWindow('rate:U1', 5, 60_000, t0 + 60_001);
    expect(later).toMatchObject({ allowed: true, count: 1 });
    // Other keys are independent.
    expect((await store.hitWindow('rate:U2', 5, 60_000, t0)).allowed).toBe(true);
    // Counting records nothing: the window holds what hitWindow counted.
    expect(await store.windowCount('rate:U1', 60_000, t0 + 60_001)).toBe(1);
    expect(await store.windowCount('rate:U1', 60_000, t0 + 60_001)).toBe(1);
    expect(await store.windowCount('rate:U3', 60_000, t0)).toBe(0);
  });

  it('keeps a time-ordered index: concurrent adds all land, re-adding moves a member, old members expire', async () => {
    const day = 86_400_000;
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.addToTimeline('review', `item${i}`, t0 + i, 30 * day)));
    expect((await store.timeline('review', t0, t0 + 100)).map((e) => e.member)).toEqual(Array.from({ length: 12 }, (_, i) => `item${i}`));
    await store.addToTimeline('review', 'item0', t0 + 50, 30 * day);
    const window = await store.timeline('review', t0 + 5, t0 + 60);
    expect(window.map((e) => e.member)).toEqual(['item5', 'item6', 'item7', 'item8', 'item9', 'item10', 'item11', 'item0']);
    expect(window.at(-1)).toEqual({ member: 'item0', at: t0 + 50 });
    await store.removeFromTimeline('review', 'item6');
    await store.removeFromTimeline('review', 'not-there', 'item8');
    expect((await store.timeline('review', t0 + 5, t0 + 9)).map((e) => e.member)).toEqual(['item5', 'item7', 'item9']);
    // A member added 31 days later pushes out everything older than 30 days.
    await store.addToTimeline('review', 'late', t0 + 31 * day, 30 * day);
    expect((await store.timeline('review', 0, t0 + 40 * day)).map((e) => e.member)).toEqual(['late']);
    expect(await store.timeline('other', 0, t0 + 40 * day)).toEqual([]);
  });

  it('keeps history per conversation, capped to the newest turns', async () => {
    const history = new HistoryStore(store, { maxTurns: 4 });
    const other = conversationKey({ platform: 'slack', workspace: 'T2', channel: 'C1', thread: '1.0001' });
    await history.append(key, turn('user', 'q1'), turn('assistant', 'a1'));
    await history.append(key, turn('user', 'q2'), turn('assistant', 'a2'));
    await history.append(key, turn('user', 'q3'), turn('assistant', 'a3'));
    expect((await history.load(key)).map((t) => t.content)).toEqual(['q2', 'a2', 'q3', 'a3']);
    // Same channel and thread ids in another workspace: a different conversation.
    expect(await history.load(other)).toEqual([]);
    await history.forget(key);
    expect(await history.load(key)).toEqual([]);
  });

  it('appends after the history a turn loaded, without resurrecting what was forgotten meanwhile', async () => {
    const history = new HistoryStore(store, { maxTurns: 10 });
    await history.append(key, turn('user', 'q1'), turn('assistant', 'a1'));
    const loadedAt = performance.now();
    const loaded = await history.load(key);
    await history.appendAfter(key, loaded, loadedAt, turn('user', 'q2'), turn('assistant', 'a2'));
    expect((await history.load(key)).map((t) => t.content)).toEqual(['q1', 'a1', 'q2', 'a2']);
    // `/parley forget` while another turn of the conversation was answering: that turn's append reads again.
    const at = performance.now();
    const stale = await history.load(key);
    await history.forget(key);
    await history.appendAfter(key, stale, at, turn('user', 'q3'), turn('assistant', 'a3'));
    expect((await history.load(key)).map((t) => t.content)).toEqual(['q3', 'a3']);
  });

  it('keeps history across a restart (persistent backends)', async () => {
    if (!reopen) return expect(backend.name).toBe('memory');
    const history = new HistoryStore(store, { maxTurns: 10, ttlMs: 60_000 });
    await history.append(key, turn('user', 'remember me'), turn('assistant', 'I will'));
    await store.close();
    store = await reopen();
    const again = new HistoryStore(store, { maxTurns: 10 });
    expect((await again.load(key)).map((t) => t.content)).toEqual(['remember me', 'I will']);
  });

  it('keeps a timeline across a restart, with its re-adds and removals (persistent backends)', async () => {
    if (!reopen) return expect(backend.name).toBe('memory');
    const t0 = Date.now();
    for (let i = 0; i < 150; i++) await store.addToTimeline('open', `c${i}`, t0 + i, 86_400_000);
    await store.addToTimeline('open', 'c0', t0 + 500, 86_400_000);
    await store.removeFromTimeline('open', 'c1', 'c2');
    await store.addToTimeline('other', 'x', t0, 86_400_000);
    await store.close();
    store = await reopen();
    const members = (await store.timeline('open', 0, t0 + 1_000)).map((e) => e.member);
    expect(members).toEqual([...Array.from({ length: 147 }, (_, i) => `c${i + 3}`), 'c0']);
    expect(await store.timeline('other', 0, t0 + 1_000)).toEqual([{ member: 'x', at: t0 }]);
  });
});

describe('store URLs', () => {
  it('rejects unknown schemes, naming STORE_URL', async () => {
    await expect(openStore('ftp://x')).rejects.toThrow(/^STORE_URL: unsupported scheme "ftp:\/\/"/);
    await expect(openStore('nonsense')).rejects.toThrow(/^STORE_URL: /);
  });
});

describe('memory store', () => {
  it('lets expired entries go without anyone reading them (Keyv alone keeps them until read)', async () => {
    const store = (await openStore('memory://')) as MemoryStore;
    const kv = store.namespace<string>('history');
    await kv.set('kept', 'forever');
    await kv.set('brief', 'soon gone', 20);
    await store.hitWindow('rate:user:u1', 5, 20);
    await store.increment('budget:u1', 3, 20);
    expect(await store.windowCount('rate:user:u1', 20)).toBe(1);
    const raw = kv.store as Map<string, unknown>;
    expect(raw.size).toBe(2);
    store.sweep(Date.now() + 1_000);
    expect([...raw.keys()]).toEqual(['parley:history:kept']);
    expect(await kv.get('kept')).toBe('forever');
    expect(await store.increment('budget:u1', 0, 20)).toBe(0);
    await store.close();
  });
});
