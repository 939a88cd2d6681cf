import type Keyv from 'keyv';
import type { ConversationKey, Turn } from '../kernel/types.js';
import type { Store } from './store.js';

interface StoredConversation {
  turns: Turn[];
  updatedAt: number;
}

/** Forget marks kept at most (a turn lasts minutes at most; the oldest marks go first). */
const MAX_FORGOTTEN = 10_000;

/**
 * Per-conversation history: one value per conversation, expiring `ttlMs` after its last turn
 * (the retention period), capped at `maxTurns` so a long thread's value stays small.
 */
export class HistoryStore {
  private readonly kv: Keyv<StoredConversation>;
  /** Only this process writes a memory or sqlite store; Redis is shared by several instances. */
  private readonly local: boolean;
  /** When each conversation was last forgotten in this process (`/parley forget` runs beside other turns). */
  private readonly forgotten = new Map<string, number>();
  constructor(
    store: Store,
    private readonly o: { ttlMs?: number; maxTurns: number; observe?: (operation: string, ms: number) => void; failed?: (operation: string) => void },
  ) {
    this.kv = store.namespace<StoredConversation>('history');
    this.local = store.kind !== 'redis';
  }

  async load(key: ConversationKey): Promise<Turn[]> {
    const started = performance.now();
    const v = await this.kv.get(key).catch((err: unknown) => {
      this.o.failed?.('history_load');
      throw err;
    });
    this.o.observe?.('history_load', performance.now() - started);
    return v?.turns ?? [];
  }

  async append(key: ConversationKey, ...turns: Turn[]): Promise<void> {
    await this.write(key, await this.load(key), turns);
  }

  /**
   * Appends to `loaded`, the history this caller read at `loadedAt` in the same turn (the engine,
   * whose turns are one at a time per conversation): one store read per turn instead of two. Read
   * again when another instance may have written (Redis) or the conversation was forgotten since.
   */
  async appendAfter(key: ConversationKey, loaded: Turn[], loadedAt: number, ...turns: Turn[]): Promise<void> {
    if (!this.local || (this.forgotten.get(key) ?? -1) >= loadedAt) loaded = await this.load(key);
    await this.write(key, loaded, turns);
  }

  private async write(key: ConversationKey, loaded: Turn[], turns: Turn[]): Promise<void> {
    const all = [...loaded, ...turns].slice(-this.o.maxTurns);
    const started = performance.now();
    await this.kv.set(key, { turns: all, updatedAt: Date.now() }, this.o.ttlMs).catch((err: unknown) => {
      this.o.failed?.('history_save');
      throw err;
    });
    this.o.observe?.('history_save', performance.now() - started);
  }

  async forget(key: ConversationKey): Promise<void> {
    if (this.local) {
      if (this.forgotten.size >= MAX_FORGOTTEN) this.forgotten.delete(this.forgotten.keys().next().value!);
      this.forgotten.set(key, performance.now());
    }
    await this.kv.delete(key);
  }
}
