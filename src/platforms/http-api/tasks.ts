import type Keyv from 'keyv';
import type { Store } from '../../store/store.js';
import type { Answer, Task, TaskStatus } from './schemas.js';
import { PrivacyIndex } from '../../store/person-index.js';

/** A task as stored: the public shape plus the key that owns it. */
interface StoredTask {
  id: string;
  /** Name of the API key that submitted it; other keys never see it. */
  owner: string;
  status: TaskStatus;
  conversationId: string;
  createdAt: number;
  updatedAt: number;
  answer?: Answer;
  error?: { code: string; message: string };
}

/**
 * A pending or running task not updated for this long belongs to an instance that died (a
 * graceful stop finishes turns first): it is reported failed instead of pending forever.
 */
export const TASK_STALE_MS = 30 * 60_000;

/**
 * Submit-and-poll tasks, kept in the store with a TTL: they survive a restart (sqlite) and
 * every instance sharing a Redis store sees the same tasks.
 */
export class TaskStore {
  private readonly kv: Keyv<StoredTask>;
  /** Writes of one task, in order (a late "running" must never overwrite "completed"). */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly index: PrivacyIndex;

  constructor(
    store: Store,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.kv = store.namespace<StoredTask>('api-tasks');
    this.index = new PrivacyIndex(store, now);
  }

  /** `askedBy`: the end user and conversation key, so deleting their words (or the conversation) finds the task. */
  async create(id: string, owner: string, conversationId: string, askedBy?: { person: string; conversation: string }): Promise<void> {
    const at = this.now();
    await this.kv.set(id, { id, owner, status: 'pending', conversationId, createdAt: at, updatedAt: at }, this.ttlMs);
    // Its TTL counts from its last change: indexed for twice that, so the index never expires first.
    if (askedBy) await this.index.note(askedBy.person, askedBy.conversation, [{ ns: 'api-tasks', key: id, ttlMs: 2 * this.ttlMs + TASK_STALE_MS }]);
  }

  /** The task as its owner sees it; undefined when it does not exist, expired or belongs to another key. */
  async get(id: string, owner: string): Promise<Task | undefined> {
    const t = await this.kv.get(id);
    if (!t || t.owner !== owner) return undefined;
    const stale = (t.status === 'pending' || t.status === 'running') && this.now() - t.updatedAt > TASK_STALE_MS;
    const shown: StoredTask = stale
      ? { ...t, status: 'failed', error: { code: 'interrupted', message: 'Parley stopped while this task was running; submit it again.' } }
      : t;
    return {
      id: shown.id,
      status: shown.status,
      conversationId: shown.conversationId,
      createdAt: new Date(shown.createdAt).toISOString(),
      updatedAt: new Date(shown.updatedAt).toISOString(),
      ...(shown.answer ? { answer: shown.answer } : {}),
      ...(shown.error ? { error: shown.error } : {}),
    };
  }

  running(id: string): Promise<void> {
    return this.update(id, (t) => (t.status === 'pending' ? { ...t, status: 'running' } : t));
  }

  completed(id: string, answer: Answer): Promise<void> {
    return this.update(id, (t) => ({ ...t, status: 'completed', answer }));
  }

  failed(id: string, error: { code: string; message: string }): Promise<void> {
    return this.update(id, (t) => ({ ...t, status: 'failed', error }));
  }

  /** Marks a task its instance could not finish as failed; a finished task stays as it is. */
  interrupted(id: string, message: string): Promise<void> {
    return this.update(id, (t) => (t.status === 'pending' || t.status === 'running' ? { ...t, status: 'failed', error: { code: 'interrupted', message } } : t));
  }

  private update(id: string, change: (t: StoredTask) => StoredTask): Promise<void> {
    const run = async () => {
      const t = await this.kv.get(id);
      if (!t) return;
      // The TTL counts from the last change, so an answer stays readable for the whole TTL.
      await this.kv.set(id, { ...change(t), updatedAt: this.now() }, this.ttlMs);
    };
    const next = (this.chains.get(id) ?? Promise.resolve()).then(run, run);
    this.chains.set(id, next);
    return next.finally(() => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    });
  }
}
