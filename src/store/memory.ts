import type { KeyvOptions } from 'keyv';
import { flat, newId } from '../kernel/strings.js';
import type { Reservation, WindowHit } from './contract.js';
import { LocalClaims } from './keyv-store.js';

/**
 * How often expired entries leave a memory store. Keyv drops an expired entry only when it is
 * read: a rate window (60 s) or a day's counter of someone who never came back stayed in memory
 * for the life of the process.
 */
const SWEEP_EVERY_MS = 60_000;

/**
 * An entry as this store's Keyv codec writes it: one JSON array, `[expires]` or `[expires,value]`
 * (expires: ms since epoch, or null). One JSON.stringify makes it one flat string: a prefix
 * joined to the JSON would be a V8 rope, which a Map keeps with all its pieces (issue 19).
 */
function encode(d: { value?: unknown; expires?: number }): string {
  return JSON.stringify(d.value === undefined ? [d.expires ?? null] : [d.expires ?? null, d.value]);
}

function decode<T>(s: string): { value?: T; expires?: number } {
  const [expires, value] = JSON.parse(s) as [number | null, T | undefined];
  return { value, expires: expires ?? undefined };
}

/** The expiry alone, without parsing the value (the sweep reads every entry). */
function expiresOf(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const expires = Number.parseInt(s.slice(1, 17), 10);
  return Number.isNaN(expires) ? undefined : expires;
}

/** One namespace's entries, keys stored flat (Keyv joins namespace and key; values are one JSON.stringify each). */
class FlatMap extends Map<string, unknown> {
  override set(key: string, value: unknown): this {
    return super.set(flat(key), value);
  }
}

/** A claim, counter or rate window held here: its value and when it expires. */
interface Held<T> {
  value: T;
  expiresAt: number;
}

/**
 * The store in this process's memory (tests, a single instance without a file). Nothing here is
 * read by another process or version, so the atomic operations are plain synchronous map
 * updates: no queue behind every other store operation, no JSON round trip (per reply that was
 * 17 claims, counters and windows through Keyv; issue 19). Expired entries are swept.
 */
export class MemoryStore extends LocalClaims {
  readonly kind = 'memory' as const;
  // Nothing outlives the process: the parsed timelines are the only copy.
  protected override readonly persistTimelines = false;
  /**
   * Native JSON behind the expiry, as nothing written here is read by another version: Keyv's
   * default serializer builds each value by string concatenation, and a Map keeps those ropes as
   * they are (~10× the flat string's heap), and its reviver-based parse was a quarter of a
   * reply's CPU (issue 19). The expiry first lets the sweep read it without parsing.
   */
  protected override readonly codec: Pick<KeyvOptions, 'serialize' | 'deserialize'> = {
    serialize: encode,
    deserialize: decode,
  };
  private readonly maps: Map<string, unknown>[] = [];
  private readonly claimed = new Map<string, Held<string>>();
  private readonly counted = new Map<string, Held<number>>();
  private readonly windows = new Map<string, Held<number[]>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(prefix: string) {
    super(prefix);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  protected adapter() {
    // One Map per namespace: Keyv records its namespace on the store it is given, and
    // iterating a namespace relies on that.
    const map = new FlatMap();
    this.maps.push(map);
    return map;
  }

  /** Drops every expired entry (also done on read, by Keyv and below). */
  sweep(now = Date.now()): void {
    for (const map of this.maps) {
      for (const [key, raw] of map) {
        const expires = expiresOf(raw);
        if (expires !== undefined && expires < now) map.delete(key);
      }
    }
    for (const held of [this.claimed, this.counted, this.windows] as Map<string, Held<unknown>>[]) {
      for (const [key, h] of held) if (h.expiresAt <= now) held.delete(key);
    }
  }

  private live<T>(held: Map<string, Held<T>>, key: string, now: number): Held<T> | undefined {
    const h = held.get(key);
    if (h && h.expiresAt <= now) {
      held.delete(key);
      return undefined;
    }
    return h;
  }

  override async claim(key: string, ttlMs: number, owner: string = newId()): Promise<boolean> {
    const now = Date.now();
    if (this.live(this.claimed, key, now)) return false;
    this.claimed.set(flat(key), { value: owner, expiresAt: now + ttlMs });
    return true;
  }

  override async renew(key: string, ttlMs: number, owner: string): Promise<boolean> {
    const now = Date.now();
    const h = this.live(this.claimed, key, now);
    if (h?.value !== owner) return false;
    h.expiresAt = now + ttlMs;
    return true;
  }

  override async release(key: string, owner: string): Promise<void> {
    if (this.live(this.claimed, key, Date.now())?.value === owner) this.claimed.delete(key);
  }

  override async increment(key: string, by: number, ttlMs: number): Promise<number> {
    return (this.counter(key, ttlMs).value += Math.trunc(by));
  }

  override async reserve(key: string, by: number, limit: number, ttlMs: number): Promise<Reservation> {
    const c = this.counter(key, ttlMs);
    if (c.value >= limit) return { granted: false, value: c.value };
    c.value += Math.trunc(by);
    return { granted: true, value: c.value };
  }

  /** The live counter `key`; a new one starts at 0 and expires `ttlMs` after it was created. */
  private counter(key: string, ttlMs: number): Held<number> {
    const now = Date.now();
    let c = this.live(this.counted, key, now);
    if (!c) this.counted.set(flat(key), (c = { value: 0, expiresAt: now + Math.max(1, ttlMs) }));
    return c;
  }

  override async hitWindow(key: string, limit: number, windowMs: number, now: number = Date.now()): Promise<WindowHit> {
    const hits = this.hitsIn(key, windowMs, now);
    if (hits.length >= limit) return { allowed: false, count: hits.length, retryAfterMs: Math.max(1, hits[0]! + windowMs - now) };
    hits.push(now);
    this.windows.set(flat(key), { value: hits, expiresAt: now + windowMs });
    return { allowed: true, count: hits.length, retryAfterMs: 0 };
  }

  override async windowCount(key: string, windowMs: number, now: number = Date.now()): Promise<number> {
    return this.hitsIn(key, windowMs, now).length;
  }

  private hitsIn(key: string, windowMs: number, now: number): number[] {
    const w = this.windows.get(key);
    return w ? w.value.filter((t) => t > now - windowMs) : [];
  }

  override async close(): Promise<void> {
    clearInterval(this.sweeper);
    await super.close();
  }
}
