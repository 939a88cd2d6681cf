import { EventEmitter } from 'node:events';
import KeyvSqlite from '@keyv/sqlite';

/**
 * sqlite result codes after which a connection stays unusable until it is opened again: the
 * file could not be opened (its directory missing or unreadable for a moment), was moved or
 * replaced, or the disk failed. @keyv/sqlite opens its connection once, in its constructor,
 * and keeps a failed open forever, so one transient fault would fail every later call.
 */
const REOPEN_CODES = new Set(['SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_NOTADB', 'SQLITE_READONLY']);

type Options = { uri: string; table: string; busyTimeout: number };

/**
 * Runs the statements of every connection of one store one at a time, in the order issued. Each
 * namespace has its own connection to the file; left to themselves, a connection writing while
 * another committed got SQLITE_BUSY and slept in sqlite's busy handler (1, 2, 5, … 100 ms),
 * which made most of a turn's time on sqlite (issue 19). One process gains nothing from running
 * them side by side: sqlite writes one transaction at a time anyway.
 */
export class StatementQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(statement: () => Promise<T>): Promise<T> {
    const next = this.tail.then(statement, statement);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * A Keyv sqlite adapter that opens a fresh connection on the next call after a connection
 * fault (a failed open included). Everything else is @keyv/sqlite's.
 */
export class ReopeningSqliteAdapter extends EventEmitter {
  namespace?: string;
  readonly opts: KeyvSqlite['opts'];
  private inner: KeyvSqlite;
  private broken = false;

  /** A queue for the connections of one store to share (see StatementQueue). */
  static queue(): StatementQueue {
    return new StatementQueue();
  }

  constructor(
    private readonly options: Options,
    private readonly queue: StatementQueue = new StatementQueue(),
  ) {
    super();
    this.inner = this.open();
    this.opts = this.inner.opts;
  }

  private open(): KeyvSqlite {
    const adapter = new KeyvSqlite(this.options);
    // Deleted rows are overwritten with zeros, not left readable in free pages of the file. The
    // pragma is per connection, and runs before the connection's first statement.
    const raw = adapter.query;
    const ready = raw('PRAGMA secure_delete = ON');
    adapter.query = async (sql: string, ...params: unknown[]) => {
      await ready;
      return this.queue.run(() => raw(sql, ...params));
    };
    // Emitted when the connection cannot be opened; the calls waiting on it reject as well.
    adapter.on('error', (err: unknown) => {
      if (adapter === this.inner) this.broken = true;
      void err;
    });
    return adapter;
  }

  private current(): KeyvSqlite {
    if (this.broken) {
      const old = this.inner;
      this.broken = false;
      this.inner = this.open();
      void old.disconnect().catch(() => undefined);
    }
    this.inner.namespace = this.namespace;
    return this.inner;
  }

  private async run<T>(fn: (a: KeyvSqlite) => Promise<T>): Promise<T> {
    const adapter = this.current();
    try {
      return await fn(adapter);
    } catch (err) {
      const code = String((err as { code?: unknown } | null)?.code ?? '');
      if (adapter === this.inner && REOPEN_CODES.has(code)) this.broken = true;
      throw err;
    }
  }

  /** A statement on the current connection (the store's purge checkpoints the write-ahead log with it). */
  query(sql: string) {
    return this.run((a) => a.query(sql));
  }

  get(key: string) {
    return this.run((a) => a.get(key));
  }
  getMany(keys: string[]) {
    return this.run((a) => a.getMany(keys));
  }
  set(key: string, value: unknown) {
    return this.run((a) => a.set(key, value));
  }
  delete(key: string) {
    return this.run((a) => a.delete(key));
  }
  deleteMany(keys: string[]) {
    return this.run((a) => a.deleteMany(keys));
  }
  clear() {
    return this.run((a) => a.clear());
  }
  has(key: string) {
    return this.run((a) => a.has(key));
  }
  async *iterator(namespace?: string): AsyncGenerator<any, void, any> {
    yield* this.current().iterator(namespace);
  }
  disconnect() {
    return this.inner.disconnect();
  }
}
