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

/**
 * Claims for single-process backends: one process owns the store, so the read-modify-write of
 * each key runs after the previous one on that key; the record is also written to the store so
 * it survives a restart (sqlite). Keys do not wait for each other (one queue for every key made
 * each turn's counters, claims and windows wait for every other turn's, issue 19).
 */
export abstract class LocalClaims extends KeyvStore {
  private readonly queues = new Map<string, Promise<unknown>>();
  private claims(): Keyv<string> {
    return this.namespace<string>('claims');
  }
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
  claim(key: string, ttlMs: number, owner: string = newId()): Promise<boolean> {
    return this.serial(`claims:${key}`, async () => {
      if ((await this.claims().get(key)) !== undefined) return false;
      await this.claims().set(key, owner, ttlMs);
      return true;
    });
  }
  renew(key: string, ttlMs: number, owner: string): Promise<boolean> {
    return this.serial(`claims:${key}`, async () => {
      if ((await this.claims().get(key)) !== owner) return false;
      await this.claims().set(key, owner, ttlMs);
      return true;
    });
  }
  release(key: string, owner: string): Promise<void> {
    return this.serial(`claims:${key}`, async () => {
      if ((await this.claims().get(key)) === owner) await this.claims().delete(key);
    });
  }
  increment(key: string, by: number, ttlMs: number): Promise<number> {
    const kv = this.namespace<{ n: number; expiresAt: number }>('counters');
    return this.serial(`counters:${key}`, async () => {
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
    return this.serial(`counters:${key}`, async () => {
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
    return this.serial(`windows:${key}`, async () => {
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
   * Timelines (analytics' open threads: one entry per conversation of the last day; the review
   * queue) are kept parsed by the one process owning the store: parsing them on every turn grew
   * with traffic (issue 19). sqlite keeps one row per member, so a turn writes one small row; it
   * wrote the whole timeline, O(open threads) per turn, which made most of a reply's CPU on the
   * default store (issue 19). Memory needs no copy.
   */
  private readonly timelines = new Map<string, Timeline>();
  /** Whether timelines are written to the Keyv store too (to survive a restart). */
  protected readonly persistTimelines: boolean = true;
  /** A timeline's members, one row each, in a namespace of its own (so loading one reads only its rows). */
  private members(key: string): Keyv<number> {
    return this.namespace<number>(`timeline:${key}`);
  }
  private async loadTimeline(key: string): Promise<Timeline> {
    const cached = this.timelines.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached;
    const t: Timeline = { entries: new Map(), expiresAt: Number.POSITIVE_INFINITY, cutoff: Number.NEGATIVE_INFINITY, addedSinceDrop: 0 };
    if (this.persistTimelines) {
      for await (const [member, at] of this.entries<number>(`timeline:${key}`)) t.entries.set(member, at);
      // A timeline written whole, as versions before one row per member did: its members become rows.
      const whole = await this.namespace<Record<string, number>>('timelines').get(key);
      if (whole) {
        // A member with a row of its own was added since: its row is newer.
        const missing = Object.entries(whole).filter(([member]) => !t.entries.has(member));
        for (const [member, at] of missing) t.entries.set(member, at);
        await this.members(key).setMany(missing.map(([member, at]) => ({ key: member, value: at })));
        await this.namespace('timelines').delete(key);
      }
    }
    this.timelines.set(key, t);
    return t;
  }
  addToTimeline(key: string, member: string, at: number, ttlMs: number): Promise<void> {
    return this.serial(`timelines:${key}`, async () => {
      const t = await this.loadTimeline(key);
      t.entries.delete(member); // a member added again moves to the end of the insertion order
      t.entries.set(member, at);
      // Members older than the cutoff are gone for every reader at once; they leave the map in
      // one pass once a quarter of it has been added since the last (a pass on every add was
      // O(open threads) per turn, issue 19).
      t.cutoff = Math.max(t.cutoff, at - ttlMs);
      t.expiresAt = Date.now() + ttlMs;
      const dropped: string[] = [];
      if (++t.addedSinceDrop * 4 >= t.entries.size) {
        t.addedSinceDrop = 0;
        t.entries.forEach((time, m) => void (time < t.cutoff && (t.entries.delete(m), dropped.push(m))));
      }
      if (!this.persistTimelines) return;
      await this.members(key).set(member, at, ttlMs);
      if (dropped.length) await this.members(key).deleteMany(dropped);
    });
  }
  removeFromTimeline(key: string, ...members: string[]): Promise<void> {
    return this.serial(`timelines:${key}`, async () => {
      const t = await this.loadTimeline(key);
      const present = members.filter((m) => t.entries.has(m));
      if (!present.length) return;
      for (const m of present) t.entries.delete(m);
      if (this.persistTimelines) await this.members(key).deleteMany(present);
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
