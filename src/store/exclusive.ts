import { randomUUID } from 'node:crypto';
import type { Store } from './store.js';

/** A read-modify-write takes milliseconds; a holder that died frees the key after this. */
const HOLD_TTL_MS = 5_000;
const POLL_MS = 10;

/**
 * Runs `fn` while holding `key` through the store's atomic claim: one holder at a time across
 * every process sharing the store (Redis `SET NX PX`), so a read-modify-write of a shared
 * record is never interleaved with another instance's. Short sections only: waiters poll.
 */
export async function exclusive<T>(store: Store, key: string, fn: () => Promise<T>): Promise<T> {
  const owner = randomUUID();
  while (!(await store.claim(`exclusive:${key}`, HOLD_TTL_MS, owner))) await new Promise((r) => setTimeout(r, POLL_MS));
  try {
    return await fn();
  } finally {
    await store.release(`exclusive:${key}`, owner);
  }
}
