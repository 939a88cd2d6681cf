import { newId } from '../kernel/strings.js';
import { ParleyError } from '../kernel/errors.js';
import type { Store } from './store.js';

export interface ExclusiveOptions {
  /** How long the hold lasts if its holder dies (default 5 s: a read-modify-write takes milliseconds). */
  holdMs?: number;
  /** How long to wait for the hold before failing with `lock_timeout` (default 30 s). */
  maxWaitMs?: number;
}

/**
 * Runs `fn` while holding `key` through the store's atomic claim: one holder at a time across
 * every process sharing the store (Redis `SET NX PX`), so a read-modify-write of a shared
 * record is never interleaved with another instance's. Short sections only: waiters poll, with
 * jitter so they do not retry in lockstep.
 */
export async function exclusive<T>(store: Store, key: string, fn: () => Promise<T>, o: ExclusiveOptions = {}): Promise<T> {
  const holdMs = o.holdMs ?? 5_000;
  const deadline = Date.now() + (o.maxWaitMs ?? 30_000);
  const owner = newId();
  while (!(await store.claim(`exclusive:${key}`, holdMs, owner))) {
    if (Date.now() > deadline) throw new ParleyError('lock_timeout', `could not take the lock ${key}`);
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 15));
  }
  try {
    return await fn();
  } finally {
    await store.release(`exclusive:${key}`, owner);
  }
}
