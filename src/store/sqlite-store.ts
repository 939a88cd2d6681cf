import type { KeyvStoreAdapter } from 'keyv';
import type { TimelineEntry } from './contract.js';
import { type Held, type HeldKind, LocalStore } from './keyv-store.js';
import { SqliteAdapter, type SqliteFile } from './sqlite.js';

/**
 * A row's value as Keyv writes it (@keyv/serialize): `{"value":…,"expires":…}`, where a string
 * starting with ':' is escaped with one more. Rows written here and through a Keyv namespace
 * are the same, so files of earlier versions read as before.
 */
function encodeRow(value: unknown, expires: number): string {
  return JSON.stringify({ value: typeof value === 'string' && value.startsWith(':') ? `:${value}` : value, expires });
}

/** A live row's value and expiry (none: never expires); undefined when absent or expired. */
function decodeRow(raw: string | undefined): Held<unknown> | undefined {
  if (raw === undefined) return undefined;
  const row = JSON.parse(raw) as { value: unknown; expires?: number | null };
  const expiresAt = typeof row.expires === 'number' ? row.expires : Number.POSITIVE_INFINITY;
  if (Date.now() > expiresAt) return undefined;
  const v = row.value;
  return { value: typeof v === 'string' && v.startsWith(':') ? v.slice(1) : v, expiresAt };
}

/**
 * The default store: one sqlite file (src/store/sqlite.ts). Claims, counters and rate windows
 * are read and written synchronously inside the turn's write transaction, so they are atomic
 * for every process on the file; a timeline keeps one row per member.
 */
export class SqliteStore extends LocalStore {
  readonly kind = 'sqlite' as const;
  constructor(
    private readonly file: SqliteFile,
    prefix: string,
  ) {
    super(prefix);
  }

  protected adapter() {
    // One adapter per namespace (a Keyv sets its namespace on the adapter it owns), all on the file's one connection.
    return new SqliteAdapter(this.file) as unknown as KeyvStoreAdapter;
  }

  /** The row key Keyv gives `key` in the namespace `name`. */
  private row(name: string, key: string): string {
    return `${this.prefix}:${name}:${key}`;
  }

  protected held<T>(kind: HeldKind, key: string): Held<T> | undefined {
    const h = decodeRow(this.file.now((s) => s.get.get(this.row(kind, key))));
    if (!h || kind !== 'counters') return h as Held<T> | undefined;
    // Counters are stored as `{ n, expiresAt }`, as earlier versions wrote them through Keyv.
    const c = h.value as { n: number; expiresAt: number };
    return { value: c.n, expiresAt: c.expiresAt } as Held<T>;
  }

  protected hold<T>(kind: HeldKind, key: string, h: Held<T> | undefined): void {
    const row = this.row(kind, key);
    if (!h) return void this.file.now((s) => s.delete.run(row));
    const value = kind === 'counters' ? { n: h.value, expiresAt: h.expiresAt } : h.value;
    this.file.now((s) => s.set.run(row, encodeRow(value, h.expiresAt)));
  }

  protected atomically<T>(fn: () => T): Promise<T> {
    return this.file.write(fn);
  }

  protected override async storedTimeline(key: string): Promise<Map<string, number>> {
    const entries = new Map<string, number>();
    for await (const [member, at] of this.entries<number>(`timeline:${key}`)) entries.set(member, at);
    // A timeline written whole, as versions before one row per member did: its members become rows.
    const whole = await this.namespace<Record<string, number>>('timelines').get(key);
    if (whole) {
      // A member with a row of its own was added since: its row is newer.
      const missing = Object.entries(whole).filter(([member]) => !entries.has(member));
      for (const [member, at] of missing) entries.set(member, at);
      await this.namespace<number>(`timeline:${key}`).setMany(missing.map(([member, at]) => ({ key: member, value: at })));
      await this.namespace('timelines').delete(key);
    }
    return entries;
  }

  protected override storeTimelineChange(key: string, added: (TimelineEntry & { ttlMs: number }) | undefined, removed: string[]): Promise<void> {
    const name = `timeline:${key}`;
    return this.file.write((s) => {
      if (added) s.set.run(this.row(name, added.member), encodeRow(added.at, Date.now() + added.ttlMs));
      if (removed.length) s.deleteMany.run(JSON.stringify(removed.map((m) => this.row(name, m))));
    });
  }

  override async purge(): Promise<void> {
    // The write-ahead log still holds the pages as they were before the deletion.
    await this.file.pragma('wal_checkpoint(TRUNCATE)');
  }

  override async close(): Promise<void> {
    await super.close();
    await this.file.close();
  }
}
