import type Keyv from 'keyv';
import type { ConversationKey, Turn } from '../kernel/types.js';
import type { Store } from './store.js';

interface StoredConversation {
  turns: Turn[];
  updatedAt: number;
}

/**
 * Per-conversation history: one value per conversation, expiring `ttlMs` after its last turn
 * (the retention period), capped at `maxTurns` so a long thread's value stays small.
 */
export class HistoryStore {
  private readonly kv: Keyv<StoredConversation>;
  constructor(
    store: Store,
    private readonly o: { ttlMs?: number; maxTurns: number; observe?: (operation: string, ms: number) => void; failed?: (operation: string) => void },
  ) {
    this.kv = store.namespace<StoredConversation>('history');
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
    const current = await this.load(key);
    const all = [...current, ...turns].slice(-this.o.maxTurns);
    const started = performance.now();
    await this.kv.set(key, { turns: all, updatedAt: Date.now() }, this.o.ttlMs).catch((err: unknown) => {
      this.o.failed?.('history_save');
      throw err;
    });
    this.o.observe?.('history_save', performance.now() - started);
  }

  async forget(key: ConversationKey): Promise<void> {
    await this.kv.delete(key);
  }
}
