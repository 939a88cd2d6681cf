import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import Keyv, { type KeyvOptions, type KeyvStoreAdapter } from 'keyv';
import type { Redis } from 'ioredis';
import { ConfigError } from '../kernel/errors.js';
// The backends' drivers load when a store of their kind opens: a memory or sqlite store never
// needs the Redis client's modules (idle RSS, issue 19).
import type { IORedisKeyvAdapter } from './redis.js';
import type { ReopeningSqliteAdapter } from './sqlite.js';

/**
 * Storage for everything Parley keeps: history, dedupe records, locks, and what later
 * features add. Each feature takes a Keyv namespace; the few operations Keyv cannot do
 * atomically (claim a key once across instances) are here, implemented per backend.
 *
 * Outages: every Keyv here throws on store errors (`throwOnErrors`), so callers decide
 * what an outage means instead of reading `undefined` as "empty".
 */
export interface Store {
  readonly kind: StoreKind;
  /** A Keyv scoped to `name`; values are JSON. Calling twice with one name returns the same Keyv. */
  namespace<T = unknown>(name: string): Keyv<T>;
  /**
   * Every live entry of the namespace `name`, with keys exactly as they were set (Keyv's own
   * iterator prefixes them differently per backend). Order is unspecified.
   */
  entries<T = unknown>(name: string): AsyncIterable<[string, T]>;
  /**
   * Sets `key` to `owner` for `ttlMs` only if it is not set: true if this caller got it.
   * Atomic across every instance sharing the store (Redis `SET NX PX`).
   */
  claim(key: string, ttlMs: number, owner?: string): Promise<boolean>;
  /** Extends a claim held by `owner`; false if it expired or belongs to someone else. */
  renew(key: string, ttlMs: number, owner: string): Promise<boolean>;
  /** Deletes `key` only if `owner` holds it (compare-and-delete). */
  release(key: string, owner: string): Promise<void>;
  /**
   * Adds `by` (a whole number; 0 reads) to the counter `key` and returns the new value. A new
   * counter starts at 0 and expires `ttlMs` after it was created. Atomic across instances (Redis).
   */
  increment(key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Adds `by` to the counter `key` (as `increment`) only if its value is below `limit`: a budget
   * reserved before the work it pays for. Returns whether it was granted and the value after
   * (unchanged when refused). Atomic across instances, so concurrent callers together pass
   * `limit` by less than one `by`. Settle later with `increment(key, actual - by, ttlMs)`.
   */
  reserve(key: string, by: number, limit: number, ttlMs: number): Promise<Reservation>;
  /**
   * Sliding-window log: records one hit at `now` under `key` if fewer than `limit` hits fall in
   * the last `windowMs`. Returns whether it was allowed, the hits in the window (including this
   * one when allowed) and, when refused, the ms until the oldest hit leaves the window.
   * Atomic across instances (Redis sorted set in one script).
   */
  hitWindow(key: string, limit: number, windowMs: number, now?: number): Promise<WindowHit>;
  /** Hits recorded under `key` in the last `windowMs` (what `hitWindow` would count), without recording one. */
  windowCount(key: string, windowMs: number, now?: number): Promise<number>;
  /**
   * Time-ordered index: puts `member` at time `at` under `key` (a member added again moves to
   * its new time) and drops members older than `at - ttlMs`. Atomic across instances (Redis sorted set).
   */
  addToTimeline(key: string, member: string, at: number, ttlMs: number): Promise<void>;
  /** Members of the timeline `key` with times in [since, until], oldest first. */
  timeline(key: string, since: number, until: number): Promise<TimelineEntry[]>;
  /** Takes `members` out of the timeline `key` (those not there are ignored). */
  removeFromTimeline(key: string, ...members: string[]): Promise<void>;
  /**
   * After a deletion (src/privacy/forget.ts): makes deleted data unreadable in the backend's files.
   * sqlite overwrites deleted rows itself (`secure_delete`); this also empties a write-ahead log.
   */
  purge(): Promise<void>;
  close(): Promise<void>;
}

export interface TimelineEntry {
  member: string;
  at: number;
}

export interface Reservation {
  granted: boolean;
  value: number;
}

export interface WindowHit {
  allowed: boolean;
  count: number;
  retryAfterMs: number;
}

export type StoreKind = 'memory' | 'sqlite' | 'redis';

export function parseStoreUrl(url: string): { kind: StoreKind; location: string } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (!m) throw new ConfigError('STORE_URL', `"${url}" is not a URL (expected sqlite://path, memory:// or redis://host:port/db)`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'memory') return { kind: 'memory', location: '' };
  if (scheme === 'sqlite') {
    if (!rest) throw new ConfigError('STORE_URL', 'sqlite:// needs a file path, e.g. sqlite://data/parley.sqlite');
    return { kind: 'sqlite', location: rest };
  }
  if (scheme === 'redis' || scheme === 'rediss') return { kind: 'redis', location: url };
  throw new ConfigError('STORE_URL', `unsupported scheme "${scheme}://" (expected sqlite://, memory:// or redis://)`);
}

/** A store in this process's memory, ready at once (pacers' budgets; tests). */
export function memoryStore(keyPrefix = 'parley'): Store {
  return new MemoryStore(keyPrefix);
}

export async function openStore(url: string, options: { keyPrefix?: string } = {}): Promise<Store> {
  const { kind, location } = parseStoreUrl(url);
  const prefix = options.keyPrefix ?? 'parley';
  if (kind === 'memory') return memoryStore(prefix);
  if (kind === 'sqlite') {
    const file = location === ':memory:' ? location : resolve(location);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const { ReopeningSqliteAdapter } = await import('./sqlite.js');
    return new SqliteStore(file, prefix, ReopeningSqliteAdapter);
  }
  const { connectRedis, IORedisKeyvAdapter } = await import('./redis.js');
  return new RedisStore(await connectRedis(location), prefix, IORedisKeyvAdapter);
}

abstract class KeyvStore implements Store {
  abstract readonly kind: StoreKind;
  private readonly spaces = new Map<string, Keyv<any>>();
  constructor(protected readonly prefix: string) {}
  protected abstract adapter(): KeyvStoreAdapter | Map<any, any>;
  /** How values become strings; Keyv's default where stored data must stay readable by it. */
  protected readonly codec: Pick<KeyvOptions, 'serialize' | 'deserialize'> = {};
  /** Whether Keyv adds the namespace to keys itself (false where the adapter does it). */
  protected readonly keyvPrefixesKeys: boolean = true;

  namespace<T = unknown>(name: string): Keyv<T> {
    let kv = this.spaces.get(name);
    if (!kv) {
      kv = new Keyv({ store: this.adapter(), namespace: `${this.prefix}:${name}`, throwOnErrors: true, useKeyPrefix: this.keyvPrefixesKeys, ...this.codec });
      // Keyv emits before it throws; the throw reaches the caller, who handles it.
      kv.on('error', () => {});
      this.spaces.set(name, kv);
    }
    return kv as Keyv<T>;
  }

  async *entries<T = unknown>(name: string): AsyncIterable<[string, T]> {
    const kv = this.namespace<T>(name);
    // Keyv's iterator yields `name:key` where Keyv prefixes keys itself, the bare key where the adapter does.
    const prefix = this.keyvPrefixesKeys ? `${name}:` : '';
    for await (const [key, value] of kv.iterator!(undefined)) {
      const k = String(key);
      yield [prefix && k.startsWith(prefix) ? k.slice(prefix.length) : k, value as T];
    }
  }

  abstract claim(key: string, ttlMs: number, owner?: string): Promise<boolean>;
  abstract renew(key: string, ttlMs: number, owner: string): Promise<boolean>;
  abstract release(key: string, owner: string): Promise<void>;
  abstract increment(key: string, by: number, ttlMs: number): Promise<number>;
  abstract reserve(key: string, by: number, limit: number, ttlMs: number): Promise<Reservation>;
  abstract hitWindow(key: string, limit: number, windowMs: number, now?: number): Promise<WindowHit>;
  abstract windowCount(key: string, windowMs: number, now?: number): Promise<number>;
  abstract addToTimeline(key: string, member: string, at: number, ttlMs: number): Promise<void>;
  abstract timeline(key: string, since: number, until: number): Promise<TimelineEntry[]>;
  abstract removeFromTimeline(key: string, ...members: string[]): Promise<void>;

  async purge(): Promise<void> {
    // Memory and Redis hold nothing once a key is deleted (Redis persistence files: docs/privacy.md).
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.spaces.values()].map((kv) => kv.disconnect()));
    this.spaces.clear();
  }
}

/**
 * Claims for single-process backends: one process owns the store, so an in-process map
 * serialises claims; the record is also written to the store so it survives a restart (sqlite).
 */
abstract class LocalClaims extends KeyvStore {
  private chain: Promise<unknown> = Promise.resolve();
  private claims(): Keyv<string> {
    return this.namespace<string>('claims');
  }
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
  claim(key: string, ttlMs: number, owner: string = randomUUID()): Promise<boolean> {
    return this.serial(async () => {
      if ((await this.claims().get(key)) !== undefined) return false;
      await this.claims().set(key, owner, ttlMs);
      return true;
    });
  }
  renew(key: string, ttlMs: number, owner: string): Promise<boolean> {
    return this.serial(async () => {
      if ((await this.claims().get(key)) !== owner) return false;
      await this.claims().set(key, owner, ttlMs);
      return true;
    });
  }
  release(key: string, owner: string): Promise<void> {
    return this.serial(async () => {
      if ((await this.claims().get(key)) === owner) await this.claims().delete(key);
    });
  }
  increment(key: string, by: number, ttlMs: number): Promise<number> {
    const kv = this.namespace<{ n: number; expiresAt: number }>('counters');
    return this.serial(async () => {
      const now = Date.now();
      const cur = await kv.get(key);
      const live = cur && cur.expiresAt > now ? cur : { n: 0, expiresAt: now + ttlMs };
      const next = { n: live.n + Math.trunc(by), expiresAt: live.expiresAt };
      await kv.set(key, next, Math.max(1, next.expiresAt - now));
      return next.n;
    });
  }
  reserve(key: string, by: number, limit: number, ttlMs: number): Promise<Reservation> {
    const kv = this.namespace<{ n: number; expiresAt: number }>('counters');
    return this.serial(async () => {
      const now = Date.now();
      const cur = await kv.get(key);
      const live = cur && cur.expiresAt > now ? cur : { n: 0, expiresAt: now + ttlMs };
      if (live.n >= limit) return { granted: false, value: live.n };
      const next = { n: live.n + Math.trunc(by), expiresAt: live.expiresAt };
      await kv.set(key, next, Math.max(1, next.expiresAt - now));
      return { granted: true, value: next.n };
    });
  }
  hitWindow(key: string, limit: number, windowMs: number, now: number = Date.now()): Promise<WindowHit> {
    const kv = this.namespace<number[]>('windows');
    return this.serial(async () => {
      const hits = ((await kv.get(key)) ?? []).filter((t) => t > now - windowMs);
      if (hits.length >= limit) {
        return { allowed: false, count: hits.length, retryAfterMs: Math.max(1, hits[0]! + windowMs - now) };
      }
      hits.push(now);
      await kv.set(key, hits, windowMs);
      return { allowed: true, count: hits.length, retryAfterMs: 0 };
    });
  }
  async windowCount(key: string, windowMs: number, now: number = Date.now()): Promise<number> {
    return ((await this.namespace<number[]>('windows').get(key)) ?? []).filter((t) => t > now - windowMs).length;
  }
  /**
   * Timelines (analytics' open threads: one entry per conversation of the last day) are one
   * value per key here. Parsing and re-serialising it on every turn grew with traffic and was
   * the largest CPU cost of a reply (issue 19), so the one process owning the store keeps it
   * parsed; sqlite still gets every write, memory needs none.
   */
  private readonly timelines = new Map<string, Timeline>();
  /** Whether timelines are written to the Keyv store too (to survive a restart). */
  protected readonly persistTimelines: boolean = true;
  private async loadTimeline(key: string): Promise<Timeline> {
    const cached = this.timelines.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached;
    const stored = this.persistTimelines ? await this.namespace<Record<string, number>>('timelines').get(key) : undefined;
    const t: Timeline = {
      entries: new Map(Object.entries(stored ?? {})),
      expiresAt: Number.POSITIVE_INFINITY,
      cutoff: Number.NEGATIVE_INFINITY,
      addedSinceDrop: 0,
    };
    this.timelines.set(key, t);
    return t;
  }
  private async saveTimeline(key: string, t: Timeline, ttlMs?: number): Promise<void> {
    if (ttlMs !== undefined) t.expiresAt = Date.now() + ttlMs;
    if (!this.persistTimelines) return;
    const live: Record<string, number> = {};
    t.entries.forEach((at, member) => void (at >= t.cutoff && (live[member] = at)));
    await this.namespace<Record<string, number>>('timelines').set(key, live, ttlMs);
  }
  addToTimeline(key: string, member: string, at: number, ttlMs: number): Promise<void> {
    return this.serial(async () => {
      const t = await this.loadTimeline(key);
      t.entries.delete(member); // a member added again moves to the end of the insertion order
      t.entries.set(member, at);
      // Members older than the cutoff are gone for every reader at once; they leave the map in
      // one pass once a quarter of it has been added since the last (a pass on every add was
      // O(open threads) per turn, issue 19).
      t.cutoff = Math.max(t.cutoff, at - ttlMs);
      if (++t.addedSinceDrop * 4 >= t.entries.size) {
        t.addedSinceDrop = 0;
        t.entries.forEach((time, m) => void (time < t.cutoff && t.entries.delete(m)));
      }
      await this.saveTimeline(key, t, ttlMs);
    });
  }
  removeFromTimeline(key: string, ...members: string[]): Promise<void> {
    return this.serial(async () => {
      const t = await this.loadTimeline(key);
      const present = members.filter((m) => t.entries.has(m));
      if (!present.length) return;
      for (const m of present) t.entries.delete(m);
      await this.saveTimeline(key, t);
    });
  }
  async timeline(key: string, since: number, until: number): Promise<TimelineEntry[]> {
    const t = await this.serial(() => this.loadTimeline(key));
    const from = Math.max(since, t.cutoff);
    const out: TimelineEntry[] = [];
    t.entries.forEach((at, member) => void (at >= from && at <= until && out.push({ member, at })));
    return out.sort((a, b) => a.at - b.at);
  }
}

/** One timeline held parsed by the process owning the store. */
interface Timeline {
  entries: Map<string, number>;
  expiresAt: number;
  /** Members older than this were dropped by an add (Redis drops them there and then): never read. */
  cutoff: number;
  /** Adds since expired members last left `entries`. */
  addedSinceDrop: number;
}

class MemoryStore extends LocalClaims {
  readonly kind = 'memory' as const;
  // Nothing outlives the process: the parsed timelines are the only copy.
  protected override readonly persistTimelines = false;
  /**
   * Native JSON, as nothing written here is read by another version: Keyv's default serializer
   * builds each value by string concatenation, and a Map keeps those ropes as they are (~10×
   * the flat string's heap), and its reviver-based parse was a quarter of a reply's CPU (issue 19).
   */
  protected override readonly codec: Pick<KeyvOptions, 'serialize' | 'deserialize'> = {
    serialize: (d) => JSON.stringify(d),
    deserialize: (s) => JSON.parse(s),
  };
  protected adapter() {
    // One Map per namespace: Keyv records its namespace on the store it is given, and
    // iterating a namespace relies on that.
    return new Map();
  }
}

class SqliteStore extends LocalClaims {
  readonly kind = 'sqlite' as const;
  constructor(
    private readonly file: string,
    prefix: string,
    private readonly Adapter: typeof ReopeningSqliteAdapter,
  ) {
    super(prefix);
  }
  private readonly connections: ReopeningSqliteAdapter[] = [];
  protected adapter() {
    // One adapter per namespace: a Keyv sets its namespace on the adapter it owns. A connection
    // that fails (a transient fault) is opened again on the next call.
    const adapter = new this.Adapter({ uri: `sqlite://${this.file}`, table: 'parley', busyTimeout: 5000 });
    this.connections.push(adapter);
    return adapter as unknown as KeyvStoreAdapter;
  }
  override async purge(): Promise<void> {
    // A write-ahead log (if a deployment turned WAL on) still holds the pages as they were before the deletion.
    const any = this.connections[0] ?? (this.namespace('health'), this.connections[0]);
    await any?.query('PRAGMA wal_checkpoint(TRUNCATE)');
  }
}

const RELEASE_IF_OWNER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
// Adds ARGV[1]; a counter that did not exist gets its TTL (ARGV[2] ms) once, at creation.
const INCREMENT_WITH_TTL =
  "local n = redis.call('incrby', KEYS[1], ARGV[1]) if redis.call('pttl', KEYS[1]) < 0 then redis.call('pexpire', KEYS[1], ARGV[2]) end return n";
// INCREMENT_WITH_TTL, only while the counter is below ARGV[3]; returns {granted, value}.
const RESERVE_BELOW_LIMIT = `
local cur = tonumber(redis.call('get', KEYS[1]) or '0')
if cur >= tonumber(ARGV[3]) then return {0, cur} end
local n = redis.call('incrby', KEYS[1], ARGV[1])
if redis.call('pttl', KEYS[1]) < 0 then redis.call('pexpire', KEYS[1], ARGV[2]) end
return {1, n}`;
// Sliding-window log in a sorted set scored by time: drop old hits, then add this one if room.
const HIT_WINDOW = `
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
local count = redis.call('zcard', KEYS[1])
if count >= limit then
  local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, count, tonumber(oldest[2]) + window - now}
end
redis.call('zadd', KEYS[1], now, ARGV[4])
redis.call('pexpire', KEYS[1], window)
return {1, count + 1, 0}`;
// Sorted set scored by time: add (or move) the member, drop the expired ones, keep the key while used.
const ADD_TO_TIMELINE = `
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
redis.call('pexpire', KEYS[1], ARGV[3])`;
const RENEW_IF_OWNER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

class RedisStore extends KeyvStore {
  readonly kind = 'redis' as const;
  // The adapter prefixes keys with the namespace itself (`ns::key`); Keyv must not add its own.
  protected override readonly keyvPrefixesKeys = false;
  constructor(
    readonly client: Redis,
    prefix: string,
    private readonly Adapter: typeof IORedisKeyvAdapter,
  ) {
    super(prefix);
  }
  protected adapter() {
    // Shares the one connection.
    return new this.Adapter(this.client) as unknown as KeyvStoreAdapter;
  }
  private key(k: string) {
    return `${this.prefix}:claims:${k}`;
  }
  private counter(k: string) {
    return `${this.prefix}:counters:${k}`;
  }
  async claim(key: string, ttlMs: number, owner: string = randomUUID()): Promise<boolean> {
    const r = await this.client.set(this.key(key), owner, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
    return r === 'OK';
  }
  async renew(key: string, ttlMs: number, owner: string): Promise<boolean> {
    const r = await this.client.eval(RENEW_IF_OWNER, 1, this.key(key), owner, String(Math.round(ttlMs)));
    return Number(r) === 1;
  }
  async release(key: string, owner: string): Promise<void> {
    await this.client.eval(RELEASE_IF_OWNER, 1, this.key(key), owner);
  }
  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    const r = await this.client.eval(INCREMENT_WITH_TTL, 1, this.counter(key), String(Math.trunc(by)), String(Math.max(1, Math.round(ttlMs))));
    return Number(r);
  }
  async reserve(key: string, by: number, limit: number, ttlMs: number): Promise<Reservation> {
    const r = (await this.client.eval(
      RESERVE_BELOW_LIMIT,
      1,
      this.counter(key),
      String(Math.trunc(by)),
      String(Math.max(1, Math.round(ttlMs))),
      String(limit),
    )) as number[];
    return { granted: Number(r[0]) === 1, value: Number(r[1]) };
  }
  async windowCount(key: string, windowMs: number, now: number = Date.now()): Promise<number> {
    return this.client.zcount(`${this.prefix}:windows:${key}`, `(${now - windowMs}`, '+inf');
  }
  async hitWindow(key: string, limit: number, windowMs: number, now: number = Date.now()): Promise<WindowHit> {
    const r = (await this.client.eval(
      HIT_WINDOW,
      1,
      `${this.prefix}:windows:${key}`,
      String(now),
      String(Math.round(windowMs)),
      String(limit),
      `${now}:${randomUUID()}`,
    )) as number[];
    return { allowed: Number(r[0]) === 1, count: Number(r[1]), retryAfterMs: Math.max(0, Number(r[2])) };
  }
  async addToTimeline(key: string, member: string, at: number, ttlMs: number): Promise<void> {
    await this.client.eval(ADD_TO_TIMELINE, 1, `${this.prefix}:timelines:${key}`, String(at), member, String(Math.max(1, Math.round(ttlMs))));
  }
  async removeFromTimeline(key: string, ...members: string[]): Promise<void> {
    if (members.length) await this.client.zrem(`${this.prefix}:timelines:${key}`, ...members);
  }
  async timeline(key: string, since: number, until: number): Promise<TimelineEntry[]> {
    const r = await this.client.zrangebyscore(`${this.prefix}:timelines:${key}`, since, until, 'WITHSCORES');
    const out: TimelineEntry[] = [];
    for (let i = 0; i + 1 < r.length; i += 2) out.push({ member: r[i]!, at: Number(r[i + 1]) });
    return out;
  }
  override async close(): Promise<void> {
    await super.close();
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}
