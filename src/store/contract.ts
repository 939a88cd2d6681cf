import type Keyv from 'keyv';

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
