import type { KeyvOptions } from 'keyv';
import { flat } from '../kernel/strings.js';
import { type Held, type HeldKind, LocalStore } from './keyv-store.js';

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

/**
 * The store in this process's memory (tests, a single instance without a file). Nothing here is
 * read by another process or version, so the atomic operations are plain synchronous map
 * updates: no queue behind every other store operation, no JSON round trip (per reply that was
 * 17 claims, counters and windows through Keyv; issue 19). Expired entries are swept.
 */
export class MemoryStore extends LocalStore {
  readonly kind = 'memory' as const;
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
  private readonly claimed = new Map<string, Held<unknown>>();
  private readonly counted = new Map<string, Held<unknown>>();
  private readonly windows = new Map<string, Held<unknown>>();
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

  private heldOf(kind: HeldKind): Map<string, Held<unknown>> {
    return kind === 'claims' ? this.claimed : kind === 'counters' ? this.counted : this.windows;
  }

  protected held<T>(kind: HeldKind, key: string): Held<T> | undefined {
    const map = this.heldOf(kind);
    const h = map.get(key);
    if (h && h.expiresAt <= Date.now()) {
      map.delete(key);
      return undefined;
    }
    return h as Held<T> | undefined;
  }

  protected hold<T>(kind: HeldKind, key: string, h: Held<T> | undefined): void {
    if (h) this.heldOf(kind).set(flat(key), h);
    else this.heldOf(kind).delete(key);
  }

  protected atomically<T>(fn: () => T): Promise<T> {
    return new Promise((resolve) => resolve(fn())); // runs `fn` now; what it throws rejects
  }

  override async close(): Promise<void> {
    clearInterval(this.sweeper);
    await super.close();
  }
}
