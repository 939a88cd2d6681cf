import { newId } from '../kernel/strings.js';
import Keyv, { type KeyvOptions, type KeyvStoreAdapter } from 'keyv';
import type { Reservation, Store, StoreKind, TimelineEntry, WindowHit } from './contract.js';

/** The Keyv-backed part every backend shares: namespaces, entries, close. */
export abstract class KeyvStore implements Store {
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

/** A claim, counter or rate window held by a local store: its value and when it expires (ms since epoch). */
export interface Held<T> {
  value: T;
  expiresAt: number;
}

export type HeldKind = 'claims' | 'counters' | 'windows';

/**
 * The atomic operations for stores owned by one process (memory, sqlite), written once over
 * three synchronous primitives: each operation is a plain read-modify-write that nothing can
 * interleave, so no key waits for another operation (a queue per key, then one for every key,
 * made hot keys such as the day's ledger counters back up behind each other, issue 19).
 */
export abstract class LocalStore extends KeyvStore {
  /** The live record `key` of `kind` (absent or expired: undefined). */
  protected abstract held<T>(kind: HeldKind, key: string): Held<T> | undefined;
  /** Writes the record `key` of `kind`; undefined deletes it. */
  protected abstract hold<T>(kind: HeldKind, key: string, h: Held<T> | undefined): void;
  /** Runs `fn` (`held` and `hold` calls) as one step no other operation interleaves; resolves once it is stored. */
  protected abstract atomically<T>(fn: () => T): Promise<T>;

  claim(key: string, ttlMs: number, owner: string = newId()): Promise<boolean> {
    return this.atomically(() => {
      if (this.held('claims', key)) return false;
      this.hold('claims', key, { value: owner, expiresAt: Date.now() + ttlMs });
      return true;
    });
  }
  renew(key: string, ttlMs: number, owner: string): Promise<boolean> {
    return this.atomically(() => {
      if (this.held<string>('claims', key)?.value !== owner) return false;
      this.hold('claims', key, { value: owner, expiresAt: Date.now() + ttlMs });
      return true;
    });
  }
  release(key: string, owner: string): Promise<void> {
    return this.atomically(() => {
      if (this.held<string>('claims', key)?.value === owner) this.hold('claims', key, undefined);
    });
  }
  increment(key: string, by: number, ttlMs: number): Promise<number> {
    return this.atomically(() => this.count(key, by, Number.POSITIVE_INFINITY, ttlMs).value);
  }
  reserve(key: string, by: number, limit: number, ttlMs: number): Promise<Reservation> {
    return this.atomically(() => this.count(key, by, limit, ttlMs));
  }
  /** Adds `by` to the counter while it is below `limit`; a new counter starts at 0 and expires `ttlMs` after it was created. */
  private count(key: string, by: number, limit: number, ttlMs: number): Reservation {
    const cur = this.held<number>('counters', key);
    const c = cur ?? { value: 0, expiresAt: Date.now() + Math.max(1, ttlMs) };
    if (c.value >= limit) return { granted: false, value: c.value };
    const n = Math.trunc(by);
    // Reading (by 0) writes only to create the counter, whose expiry starts there (Redis INCRBY 0 does).
    if (n !== 0 || !cur) this.hold('counters', key, { value: c.value + n, expiresAt: c.expiresAt });
    return { granted: true, value: c.value + n };
  }
  hitWindow(key: string, limit: number, windowMs: number, now: number = Date.now()): Promise<WindowHit> {
    return this.atomically(() => {
      const hits = this.hits(key, windowMs, now);
      if (hits.length >= limit) return { allowed: false, count: hits.length, retryAfterMs: Math.max(1, hits[0]! + windowMs - now) };
      hits.push(now);
      this.hold('windows', key, { value: hits, expiresAt: Date.now() + windowMs });
      return { allowed: true, count: hits.length, retryAfterMs: 0 };
    });
  }
  async windowCount(key: string, windowMs: number, now: number = Date.now()): Promise<number> {
    return this.hits(key, windowMs, now).length;
  }
  private hits(key: string, windowMs: number, now: number): number[] {
    return (this.held<number[]>('windows', key)?.value ?? []).filter((t) => t > now - windowMs);
  }

  /** Timeline reads and writes wait only for earlier ones on the same timeline (its first read loads it). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(key, tail);
    void tail.then(() => this.queues.get(key) === tail && this.queues.delete(key));
    return next;
  }
  /**
   * Timelines (analytics' open threads: one entry per conversation of the last day; the review
   * queue) are kept parsed by the one process owning the store: parsing them on every turn grew
   * with traffic (issue 19). sqlite keeps one row per member, so a turn writes one small row; it
   * wrote the whole timeline, O(open threads) per turn, which made most of a reply's CPU on the
   * default store (issue 19). Memory needs no copy.
   */
  private readonly timelines = new Map<string, Timeline>();
  /** The stored members of a timeline, read when this process first uses it (memory stores none). */
  protected async storedTimeline(_key: string): Promise<Map<string, number>> {
    return new Map();
  }
  /**
   * Stores a change to a timeline (memory keeps no copy): applied when called, so changes are
   * stored in the order they were made; resolves once stored.
   */
  protected async storeTimelineChange(_key: string, _added: (TimelineEntry & { ttlMs: number }) | undefined, _removed: string[]): Promise<void> {}
  private async loadTimeline(key: string): Promise<Timeline> {
    const cached = this.timelines.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached;
    const t: Timeline = { entries: await this.storedTimeline(key), expiresAt: Number.POSITIVE_INFINITY, cutoff: Number.NEGATIVE_INFINITY, addedSinceDrop: 0 };
    this.timelines.set(key, t);
    return t;
  }
  /**
   * Changes a timeline after the earlier changes to it; `change` returns what to store. The
   * timeline's queue moves on once the change is made, the caller waits until it is stored.
   */
  private changeTimeline(key: string, change: (t: Timeline) => { added?: TimelineEntry & { ttlMs: number }; removed: string[] } | undefined): Promise<void> {
    let stored: Promise<void> | undefined;
    return this.serial(`timelines:${key}`, async () => {
      const c = change(await this.loadTimeline(key));
      if (c) stored = this.storeTimelineChange(key, c.added, c.removed);
    }).then(() => stored);
  }
  addToTimeline(key: string, member: string, at: number, ttlMs: number): Promise<void> {
    return this.changeTimeline(key, (t) => {
      t.entries.delete(member); // a member added again moves to the end of the insertion order
      t.entries.set(member, at);
      // Members older than the cutoff are gone for every reader at once; they leave the map in
      // one pass once a quarter of it has been added since the last (a pass on every add was
      // O(open threads) per turn, issue 19).
      t.cutoff = Math.max(t.cutoff, at - ttlMs);
      t.expiresAt = Date.now() + ttlMs;
      const removed: string[] = [];
      if (++t.addedSinceDrop * 4 >= t.entries.size) {
        t.addedSinceDrop = 0;
        t.entries.forEach((time, m) => void (time < t.cutoff && (t.entries.delete(m), removed.push(m))));
      }
      return { added: { member, at, ttlMs }, removed };
    });
  }
  removeFromTimeline(key: string, ...members: string[]): Promise<void> {
    return this.changeTimeline(key, (t) => {
      const removed = members.filter((m) => t.entries.has(m));
      for (const m of removed) t.entries.delete(m);
      return removed.length ? { removed } : undefined;
    });
  }
  async timeline(key: string, since: number, until: number): Promise<TimelineEntry[]> {
    const t = await this.serial(`timelines:${key}`, () => this.loadTimeline(key));
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
