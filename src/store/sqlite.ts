import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';

/**
 * sqlite result codes after which a connection stays unusable until it is opened again: the
 * file could not be opened (its directory missing or unreadable for a moment), was moved or
 * replaced, or the disk failed.
 */
const REOPEN_CODES = new Set(['SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_NOTADB', 'SQLITE_READONLY']);

/** The table and layout @keyv/sqlite wrote (Parley's store before issue 19), so existing files keep working. */
const TABLE = 'parley';
/** Page cache per connection, in KiB when negative: sqlite's stock default, -2000. */
const PAGE_CACHE_KIB = -2000;
/** Rows per page when iterating a namespace. */
const PAGE = 100;

type Statements = ReturnType<typeof prepare>;

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[string], { value: string }>(`SELECT value FROM ${TABLE} WHERE key = ?`).pluck(),
    set: db.prepare<[string, string]>(`INSERT INTO ${TABLE} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
    delete: db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE key = ?`),
    has: db.prepare<[string]>(`SELECT 1 FROM ${TABLE} WHERE key = ?`).pluck(),
    getMany: db.prepare<[string], { key: string; value: string }>(`SELECT key, value FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`),
    deleteMany: db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`),
    // A key range, not LIKE: `_` and `%` in a namespace are not wildcards, and the primary key's index serves it.
    clearRange: db.prepare<[string, string]>(`DELETE FROM ${TABLE} WHERE key >= ? AND key < ?`),
    clearAll: db.prepare(`DELETE FROM ${TABLE}`),
    page: db.prepare<[string, string, string], { key: string; value: string }>(
      `SELECT key, value FROM ${TABLE} WHERE key > ? AND key >= ? AND key < ? ORDER BY key LIMIT ${PAGE}`,
    ),
  };
}

/** Keys of `namespace` are `namespace:…`: the range [`namespace:`, `namespace;`) (';' follows ':'). */
function range(namespace: string | undefined): [string, string] {
  return namespace ? [`${namespace}:`, `${namespace};`] : ['', '\u{10ffff}'];
}

/**
 * A Keyv adapter on better-sqlite3: statements run synchronously on prepared statements, in
 * microseconds, where the asynchronous driver (sqlite3 under @keyv/sqlite) sent each through the
 * thread pool and compiled it again, and a rollback journal synced the disk on every write: on
 * the default store a reply cost 22 ms of CPU and at most 26 replies/s (issue 19).
 *
 * The file is in write-ahead-log mode with `synchronous = NORMAL`: a commit appends to the log
 * without waiting for the disk; the disk is synced at checkpoints. A power cut can lose the last
 * commits, never corrupt the file. Each namespace has its own connection, opened on its first
 * call, and opened again on the next call after a connection fault (a failed open included).
 */
export class SqliteAdapter extends EventEmitter {
  namespace?: string;
  /** `dialect` is how Keyv recognises an adapter it can iterate. */
  readonly opts: { dialect: 'sqlite'; url: string };
  private connection?: { db: Database.Database; statements: Statements };

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs = 5_000,
  ) {
    super();
    this.opts = { dialect: 'sqlite', url: `sqlite://${file}` };
  }

  private open(): Statements {
    let db: Database.Database;
    try {
      db = new Database(this.file, { timeout: this.busyTimeoutMs });
    } catch (err) {
      // better-sqlite3 checks the directory itself and throws a plain TypeError when it is missing.
      if ((err as { code?: unknown }).code) throw err;
      throw Object.assign(new Error(`SQLITE_CANTOPEN: unable to open database file (${(err as Error).message})`, { cause: err }), { code: 'SQLITE_CANTOPEN' });
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Deleted rows are overwritten with zeros, not left readable in free pages of the file.
      db.pragma('secure_delete = ON');
      // sqlite's own default page cache (2 MB); better-sqlite3 builds with 16 MB, per connection.
      db.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
      db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (key VARCHAR(255) PRIMARY KEY, value TEXT)`);
      const statements = prepare(db);
      this.connection = { db, statements };
      return statements;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** `fn` on this namespace's connection; a connection fault closes it, so the next call opens it again. */
  private run<T>(fn: (s: Statements) => T): Promise<T> {
    try {
      return Promise.resolve(fn(this.connection?.statements ?? this.open()));
    } catch (err) {
      const code = String((err as { code?: unknown } | null)?.code ?? '');
      if (REOPEN_CODES.has(code) && this.connection) {
        const { db } = this.connection;
        this.connection = undefined;
        try {
          db.close();
        } catch {
          // Closing a connection that already failed: the fault is the error reported below.
        }
      }
      // The code leads the message, as sqlite3 wrote it ("SQLITE_CANTOPEN: unable to open database file").
      if (err instanceof Error && code && !err.message.startsWith(code)) err.message = `${code}: ${err.message}`;
      return Promise.reject(err);
    }
  }

  /** One statement on this namespace's connection (the store's purge checkpoints the write-ahead log with it). */
  pragma(statement: string): Promise<unknown> {
    return this.run(() => this.connection!.db.pragma(statement));
  }

  get(key: string): Promise<string | undefined> {
    return this.run((s) => s.get.get(key) as string | undefined);
  }
  getMany(keys: string[]): Promise<(string | undefined)[]> {
    return this.run((s) => {
      const found = new Map(s.getMany.all(JSON.stringify(keys)).map((r) => [r.key, r.value]));
      return keys.map((k) => found.get(k));
    });
  }
  set(key: string, value: string): Promise<void> {
    return this.run((s) => void s.set.run(key, value));
  }
  delete(key: string): Promise<boolean> {
    return this.run((s) => s.delete.run(key).changes > 0);
  }
  deleteMany(keys: string[]): Promise<boolean> {
    return this.run((s) => s.deleteMany.run(JSON.stringify(keys)).changes > 0);
  }
  has(key: string): Promise<boolean> {
    return this.run((s) => s.has.get(key) !== undefined);
  }
  clear(): Promise<void> {
    return this.run((s) => void (this.namespace ? s.clearRange.run(...range(this.namespace)) : s.clearAll.run()));
  }
  /** Pages through the namespace by key, so rows deleted while iterating skip nothing. */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void, unknown> {
    const [from, to] = range(namespace);
    let after = '';
    for (;;) {
      const rows = await this.run((s) => s.page.all(after, from, to));
      for (const row of rows) yield [row.key, row.value];
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.key;
    }
  }
  async disconnect(): Promise<void> {
    const c = this.connection;
    this.connection = undefined;
    c?.db.close();
  }
}
