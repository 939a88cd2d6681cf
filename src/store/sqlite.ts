import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * sqlite result codes after which a connection stays unusable until it is opened again: the
 * file could not be opened (its directory missing or unreadable for a moment), was moved or
 * replaced, or the disk failed.
 */
const REOPEN_CODES = new Set(['SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_NOTADB', 'SQLITE_READONLY']);

/** The table and layout @keyv/sqlite wrote (Parley's store before issue 19), so existing files keep working. */
const TABLE = 'parley';
/** Page cache of the connection, in KiB when negative: 8 MB (better-sqlite3 builds with 16 MB, sqlite's stock default is 2). */
const PAGE_CACHE_KIB = -8000;
/** Rows per page when iterating a namespace. */
const PAGE = 100;
/** How often a call first checks that the path still names the file the connection has open. */
export const IDENTITY_CHECK_MS = 1_000;

type Statements = ReturnType<typeof prepare>;

/** One event-loop turn's writes: one transaction, and the promise its writers wait on. */
interface Batch {
  committed: Promise<void>;
  settle(err?: unknown): void;
}

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[string], string>(`SELECT value FROM ${TABLE} WHERE key = ?`).pluck(),
    set: db.prepare<[string, string]>(`INSERT INTO ${TABLE} (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
    delete: db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE key = ?`),
    has: db.prepare<[string], number>(`SELECT 1 FROM ${TABLE} WHERE key = ?`).pluck(),
    getMany: db.prepare<[string], { key: string; value: string }>(`SELECT key, value FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`),
    deleteMany: db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE key IN (SELECT value FROM json_each(?))`),
    // A key range, not LIKE: `_` and `%` in a namespace are not wildcards, and the primary key's index serves it.
    clearRange: db.prepare<[string, string]>(`DELETE FROM ${TABLE} WHERE key >= ? AND key < ?`),
    clearAll: db.prepare(`DELETE FROM ${TABLE}`),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    page: db.prepare<[string, string, string], { key: string; value: string }>(
      `SELECT key, value FROM ${TABLE} WHERE key > ? AND key >= ? AND key < ? ORDER BY key LIMIT ${PAGE}`,
    ),
  };
}

/** Keys of `namespace` are `namespace:…`: the range [`namespace:`, `namespace;`) (';' follows ':'). */
function range(namespace: string | undefined): [string, string] {
  return namespace ? [`${namespace}:`, `${namespace};`] : ['', '\u{10ffff}'];
}

function cantOpen(detail: string, cause?: unknown): Error {
  return Object.assign(new Error(`SQLITE_CANTOPEN: unable to open database file (${detail})`, { cause }), { code: 'SQLITE_CANTOPEN' });
}

/**
 * One sqlite file and the store's one connection to it, on better-sqlite3: statements run
 * synchronously on prepared statements, in microseconds. The asynchronous driver (sqlite3 under
 * @keyv/sqlite) sent each through the thread pool and compiled it again; with a rollback journal
 * synced on every write and a connection per namespace (each write emptied every other
 * connection's page cache), a reply cost 22 ms of CPU and at most 26 replies/s (issue 19).
 *
 * The file is in write-ahead-log mode with `synchronous = NORMAL`: a commit appends to the log
 * without waiting for the disk, which is synced at checkpoints. A power cut can lose the last
 * commits, never corrupt the file. The connection opens on the first call and again on the next
 * call after a fault (a failed open included), and when the path no longer names the file it
 * has open (moved, replaced or deleted: writes would go to a file nobody will read again).
 */
export class SqliteFile {
  private connection?: { db: Database.Database; statements: Statements; identity?: string; checkedAt: number };
  /** The open write transaction, committed at the end of this event-loop turn. */
  private batch?: Batch;

  constructor(
    readonly path: string,
    private readonly busyTimeoutMs = 5_000,
  ) {}

  /** The path's device and inode now, or undefined when nothing is there. */
  private identity(): string | undefined {
    if (this.path === ':memory:') return 'memory';
    try {
      const st = statSync(this.path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return undefined;
    }
  }

  private open(): Statements {
    let db: Database.Database;
    try {
      db = new Database(this.path, { timeout: this.busyTimeoutMs });
    } catch (err) {
      // better-sqlite3 checks the directory itself and throws a plain TypeError when it is missing.
      if ((err as { code?: unknown }).code) throw err;
      throw cantOpen((err as Error).message, err);
    }
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Deleted rows are overwritten with zeros, not left readable in free pages of the file.
      db.pragma('secure_delete = ON');
      db.pragma(`cache_size = ${PAGE_CACHE_KIB}`);
      db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (key VARCHAR(255) PRIMARY KEY, value TEXT)`);
      const statements = prepare(db);
      this.connection = { db, statements, identity: this.identity(), checkedAt: Date.now() };
      return statements;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Closes the connection; writes not yet committed are rolled back, and their callers get `cause`. */
  private drop(cause: unknown): void {
    const c = this.connection;
    this.connection = undefined;
    const batch = this.batch;
    this.batch = undefined;
    batch?.settle(cause);
    try {
      c?.db.close();
    } catch {
      // Closing a connection that already failed: the fault that made us drop it is what the caller sees.
    }
  }

  private statements(): Statements {
    const c = this.connection;
    if (!c) return this.open();
    const now = Date.now();
    if (now - c.checkedAt >= IDENTITY_CHECK_MS) {
      c.checkedAt = now;
      if (this.identity() !== c.identity) {
        this.drop(
          Object.assign(new Error(`SQLITE_IOERR: ${this.path} was moved, replaced or deleted before these writes were committed`), { code: 'SQLITE_IOERR' }),
        );
        return this.open();
      }
    }
    return c.statements;
  }

  /** A fault: drops the connection where it cannot go on, and names the code first, as sqlite3 wrote it. */
  private fault(err: unknown): unknown {
    const code = String((err as { code?: unknown } | null)?.code ?? '');
    if (err instanceof Error && code && !err.message.startsWith(code)) err.message = `${code}: ${err.message}`;
    if (REOPEN_CODES.has(code)) this.drop(err);
    return err;
  }

  /** `fn` on the connection, now; a connection fault drops it (the next call opens it again) and is thrown. */
  now<T>(fn: (s: Statements) => T): T {
    try {
      return fn(this.statements());
    } catch (err) {
      throw this.fault(err);
    }
  }

  /** `now` for callers that take a promise. */
  run<T>(fn: (s: Statements) => T): Promise<T> {
    try {
      return Promise.resolve(this.now(fn));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * `fn`'s writes, applied at once inside the write transaction of this event-loop turn, which
   * commits when the turn ends (`setImmediate`); resolves once it has committed. Reads on this
   * connection see them at once, so a read-modify-write never waits for a commit. A commit per
   * write was most of a reply's cost on this store: about 17 writes per reply, each appending
   * its pages to the log and taking the file's locks (issue 19). The transaction is taken with
   * the write lock (`BEGIN IMMEDIATE`): another process on the same file waits for it
   * (busy timeout) instead of failing at commit, and reads its writes only once committed.
   */
  write<T>(fn: (s: Statements) => T): Promise<T> {
    try {
      const batch = this.batch ?? this.now((s) => this.begin(s));
      const result = this.now(fn);
      return batch.committed.then(() => result);
    } catch (err) {
      return Promise.reject(err); // `now` has dealt with the fault
    }
  }

  private begin(s: Statements): Batch {
    s.begin.run();
    let settle!: Batch['settle'];
    const committed = new Promise<void>((resolve, reject) => (settle = (err) => (err === undefined ? resolve() : reject(err))));
    // Every write's caller is handed the outcome through its own promise; this one only carries it.
    committed.catch(() => {});
    const batch: Batch = { committed, settle };
    this.batch = batch;
    setImmediate(() => this.commit(batch));
    return batch;
  }

  private commit(batch: Batch): void {
    if (this.batch !== batch) return; // already committed (flush) or rolled back (a fault dropped the connection)
    this.batch = undefined;
    try {
      this.connection!.statements.commit.run();
      batch.settle();
    } catch (err) {
      const fault = this.fault(err);
      try {
        if (this.connection?.db.inTransaction) this.connection.statements.rollback.run();
      } catch {
        // The connection cannot roll back: sqlite rolls back when it closes, and the fault above is what callers get.
      }
      batch.settle(fault);
    }
  }

  /** Commits the open write transaction now (before a checkpoint, or closing). */
  flush(): Promise<void> {
    const batch = this.batch;
    if (!batch) return Promise.resolve();
    this.commit(batch);
    return batch.committed;
  }

  /** A pragma on the connection (the store's purge checkpoints the write-ahead log with it, after committing). */
  async pragma(statement: string): Promise<unknown> {
    await this.flush();
    return this.run(() => this.connection!.db.pragma(statement));
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined); // the writes' callers have their outcome
    this.drop(Object.assign(new Error('SQLITE_MISUSE: the store was closed'), { code: 'SQLITE_MISUSE' }));
  }
}

/** A Keyv adapter for one namespace of a SqliteFile (a Keyv sets the namespace on the adapter it owns). */
export class SqliteAdapter extends EventEmitter {
  namespace?: string;
  /** `dialect` is how Keyv recognises an adapter it can iterate. */
  readonly opts: { dialect: 'sqlite'; url: string };

  constructor(private readonly file: SqliteFile) {
    super();
    this.opts = { dialect: 'sqlite', url: `sqlite://${file.path}` };
  }

  /** A pragma on the file's connection (the store's purge checkpoints the write-ahead log with it). */
  pragma(statement: string): Promise<unknown> {
    return this.file.pragma(statement);
  }

  get(key: string): Promise<string | undefined> {
    return this.file.run((s) => s.get.get(key));
  }
  getMany(keys: string[]): Promise<(string | undefined)[]> {
    return this.file.run((s) => {
      const found = new Map(s.getMany.all(JSON.stringify(keys)).map((r) => [r.key, r.value]));
      return keys.map((k) => found.get(k));
    });
  }
  set(key: string, value: string): Promise<void> {
    return this.file.write((s) => void s.set.run(key, value));
  }
  delete(key: string): Promise<boolean> {
    return this.file.write((s) => s.delete.run(key).changes > 0);
  }
  deleteMany(keys: string[]): Promise<boolean> {
    return this.file.write((s) => s.deleteMany.run(JSON.stringify(keys)).changes > 0);
  }
  has(key: string): Promise<boolean> {
    return this.file.run((s) => s.has.get(key) !== undefined);
  }
  clear(): Promise<void> {
    return this.file.write((s) => void (this.namespace ? s.clearRange.run(...range(this.namespace)) : s.clearAll.run()));
  }
  /** Pages through the namespace by key, so rows deleted while iterating skip nothing. */
  async *iterator(namespace?: string): AsyncGenerator<[string, string], void, unknown> {
    const [from, to] = range(namespace);
    let after = '';
    for (;;) {
      const rows = await this.file.run((s) => s.page.all(after, from, to));
      for (const row of rows) yield [row.key, row.value];
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.key;
    }
  }
  /** The store closes the file once, for every namespace (SqliteStore.close). */
  async disconnect(): Promise<void> {}
}
