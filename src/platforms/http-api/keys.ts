import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage as HttpRequest } from 'node:http';
import type { ApiKeySettings } from '../../config/env.js';
import type { Store } from '../../store/store.js';

/**
 * API keys: only their SHA-256 is configured, so a leaked configuration does not leak keys.
 * Each key has its own request rate and daily token budget, counted in the store so every
 * instance on a shared Redis enforces the same limits.
 */
export class ApiKeyring {
  private readonly hashes: { key: ApiKeySettings; digest: Buffer }[];

  constructor(
    keys: ApiKeySettings[],
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.hashes = keys.map((key) => ({ key, digest: Buffer.from(key.sha256, 'hex') }));
  }

  /** The key presented in `Authorization: Bearer …` or `X-API-Key`, or why there is none. */
  authenticate(req: HttpRequest): { key: ApiKeySettings } | { problem: 'missing' | 'wrong' } {
    const presented = presentedKey(req);
    if (!presented) return { problem: 'missing' };
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    // Compare with every key in constant time, so the timing says nothing about which one nearly matched.
    let found: ApiKeySettings | undefined;
    for (const h of this.hashes) if (timingSafeEqual(h.digest, digest) && !found) found = h.key;
    return found ? { key: found } : { problem: 'wrong' };
  }

  /** Counts one request against the key's per-minute rate; refused = the ms to wait. */
  async takeRequest(key: ApiKeySettings): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number; limit: number }> {
    if (!key.requestsPerMinute) return { allowed: true };
    const hit = await this.store.hitWindow(`api:rate:${key.name}`, key.requestsPerMinute, 60_000, this.now());
    return hit.allowed ? { allowed: true } : { allowed: false, retryAfterMs: hit.retryAfterMs, limit: key.requestsPerMinute };
  }

  /**
   * Reserves `estimate` tokens of the key's budget for today (UTC) before the model is called,
   * atomically in the store (shared by every instance), so concurrent asks cannot all pass a
   * check that none has paid for yet: together they overshoot by less than one reservation.
   * Refused = the budget is spent, with the ms until midnight UTC. Settle with `settle`.
   */
  async reserve(
    key: ApiKeySettings,
    estimate: number,
  ): Promise<{ allowed: true; hold?: TokenHold } | { allowed: false; retryAfterMs: number; used: number; limit: number }> {
    if (!key.tokensPerDay) return { allowed: true };
    const counter = this.budgetKey(key);
    const tokens = Math.max(1, Math.ceil(estimate));
    const r = await this.store.reserve(counter, tokens, key.tokensPerDay, 2 * DAY_MS);
    if (r.granted) return { allowed: true, hold: { counter, tokens } };
    return { allowed: false, retryAfterMs: msUntilNextUtcDay(this.now()), used: r.value, limit: key.tokensPerDay };
  }

  /** Replaces a reservation with the tokens the answer really used (0 when none was given). */
  async settle(hold: TokenHold | undefined, tokens: number): Promise<void> {
    if (!hold) return;
    const delta = Math.max(0, Math.round(tokens)) - hold.tokens;
    if (delta !== 0) await this.store.increment(hold.counter, delta, 2 * DAY_MS);
  }

  private budgetKey(key: ApiKeySettings): string {
    return `api:tokens:${key.name}:${new Date(this.now()).toISOString().slice(0, 10)}`;
  }
}

const DAY_MS = 86_400_000;

/** Tokens reserved on one day's counter of a key. */
export interface TokenHold {
  counter: string;
  tokens: number;
}

function msUntilNextUtcDay(now: number): number {
  return DAY_MS - (now % DAY_MS);
}

function presentedKey(req: HttpRequest): string | undefined {
  const header = req.headers['x-api-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader?.trim()) return fromHeader.trim();
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** The hash to put in API_KEYS for a key (what `printf %s "$KEY" | sha256sum` prints). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
