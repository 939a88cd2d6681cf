import { newId } from '../kernel/strings.js';
import type { Store } from '../store/store.js';

/** How long a lock lives without renewal: a crashed holder frees the conversation after this. */
const LOCK_TTL_MS = 30_000;
const RENEW_EVERY_MS = LOCK_TTL_MS / 3;
const POLL_MS = 150;

/**
 * One reply at a time per conversation across every instance sharing the store. The
 * in-process queue already serialises turns; this lock covers two instances receiving
 * messages of the same thread (Slack HTTP mode behind a load balancer). Held with a TTL and
 * renewed while the reply streams, so a killed instance cannot block a thread for long.
 */
export class ConversationLock {
  private readonly owner = newId();
  constructor(private readonly store: Store) {}

  async acquire(conversation: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    const key = `conversation:${conversation}`;
    while (!(await this.store.claim(key, LOCK_TTL_MS, this.owner))) {
      if (signal?.aborted) throw new Error('aborted while waiting for the conversation lock');
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const timer = setInterval(() => {
      this.store.renew(key, LOCK_TTL_MS, this.owner).catch(() => {
        // A failed renewal is retried on the next tick; the TTL covers a short store outage.
      });
    }, RENEW_EVERY_MS);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.store.release(key, this.owner);
    };
  }
}
