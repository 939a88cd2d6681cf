import type { Redis } from 'ioredis';

/**
 * "At most `limit` requests in any `windowMs`": a log of recent request times per key. A
 * refilling reservoir (Bottleneck's) allows up to twice the limit in a minute that straddles a
 * refill, which a platform counting its own windows answers with 429s; a log never does,
 * whatever window the platform counts in.
 */
export interface WindowLog {
  /** Records a request now if one fits; otherwise how many ms until one does (nothing recorded). */
  take(key: string, limit: number, windowMs: number): Promise<number>;
  /** Whether a request would fit now (nothing recorded). */
  fits(key: string, limit: number, windowMs: number): Promise<boolean>;
}

/** One process's log. */
export class LocalWindowLog implements WindowLog {
  private readonly hits = new Map<string, number[]>();

  private recent(key: string, windowMs: number, now: number): number[] {
    const kept = (this.hits.get(key) ?? []).filter((t) => t > now - windowMs);
    this.hits.set(key, kept);
    return kept;
  }

  async take(key: string, limit: number, windowMs: number): Promise<number> {
    const now = Date.now();
    const hits = this.recent(key, windowMs, now);
    if (hits.length >= limit) return Math.max(1, hits[hits.length - limit]! + windowMs - now);
    hits.push(now);
    return 0;
  }

  async fits(key: string, limit: number, windowMs: number): Promise<boolean> {
    return this.recent(key, windowMs, Date.now()).length < limit;
  }
}

// A sorted set scored by time, trimmed and checked in one script (atomic across instances).
// The time is Redis's own, so instances with skewed clocks share one log.
const TAKE = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
local count = redis.call('zcard', KEYS[1])
if count >= limit then
  local oldest = redis.call('zrange', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('zadd', KEYS[1], now, ARGV[3])
redis.call('pexpire', KEYS[1], window)
return 0`;
const COUNT = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('zremrangebyscore', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('zcard', KEYS[1])`;

/** The log shared by every instance on one Redis (the same Redis the clustered limiters use). */
export class RedisWindowLog implements WindowLog {
  private seq = 0;
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async take(key: string, limit: number, windowMs: number): Promise<number> {
    const member = `${process.pid}:${Date.now()}:${++this.seq}:${Math.random().toString(36).slice(2, 8)}`;
    return Number(await this.redis.eval(TAKE, 1, `${this.prefix}:${key}`, limit, windowMs, member));
  }

  async fits(key: string, limit: number, windowMs: number): Promise<boolean> {
    return Number(await this.redis.eval(COUNT, 1, `${this.prefix}:${key}`, windowMs)) < limit;
  }
}
