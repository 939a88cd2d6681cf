import { memoryStore, type Store } from '../store/store.js';

/**
 * "At most `limit` requests in any `windowMs`": a log of recent request times per key, kept in
 * the store's sliding window (`Store.hitWindow`: a Redis sorted set when instances share it). A
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

/** The log in `store` (default: this process's memory), its keys under `prefix`. */
export function windowLog(store: Store = memoryStore(), prefix = 'pacing'): WindowLog {
  return {
    async take(key, limit, windowMs) {
      const hit = await store.hitWindow(`${prefix}:${key}`, limit, windowMs);
      return hit.allowed ? 0 : hit.retryAfterMs;
    },
    async fits(key, limit, windowMs) {
      return (await store.windowCount(`${prefix}:${key}`, windowMs)) < limit;
    },
  };
}
