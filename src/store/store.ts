import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { newId } from '../kernel/strings.js';
import type { KeyvStoreAdapter } from 'keyv';
import type { Redis } from 'ioredis';
import { ConfigError } from '../kernel/errors.js';
import type { Reservation, Store, StoreKind, TimelineEntry, WindowHit } from './contract.js';
import { KeyvStore } from './keyv-store.js';
import { MemoryStore } from './memory.js';
// The backends' drivers load when a store of their kind opens: a memory or sqlite store never
// needs the Redis client's modules (idle RSS, issue 19).
import type { IORedisKeyvAdapter } from './redis.js';

export type { Reservation, Store, StoreKind, TimelineEntry, WindowHit } from './contract.js';

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
    const [{ SqliteFile }, { SqliteStore }] = await Promise.all([import('./sqlite.js'), import('./sqlite-store.js')]);
    return new SqliteStore(new SqliteFile(file), prefix);
  }
  const { connectRedis, IORedisKeyvAdapter } = await import('./redis.js');
  return new RedisStore(await connectRedis(location), prefix, IORedisKeyvAdapter);
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
  async claim(key: string, ttlMs: number, owner: string = newId()): Promise<boolean> {
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
      `${now}:${newId()}`,
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
