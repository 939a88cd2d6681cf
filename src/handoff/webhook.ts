import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../kernel/logger.js';
import { describe } from '../kernel/errors.js';

/**
 * Handoffs POSTed as JSON to a ticket system. With a secret, each request carries
 * `X-Parley-Timestamp` (ms) and `X-Parley-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body">`
 * (the Stripe/Slack scheme: the timestamp lets receivers refuse replays). Retried with
 * exponential backoff and jitter on network errors, 429 and 5xx; other 4xx are final.
 */
export const SIGNATURE_HEADER = 'x-parley-signature';
export const TIMESTAMP_HEADER = 'x-parley-timestamp';
const REQUEST_TIMEOUT_MS = 10_000; // a ticket system that takes longer is treated as down for this attempt
const MAX_BACKOFF_MS = 60_000;

export interface WebhookOptions {
  /** Attempts in all (default 5). */
  attempts?: number;
  /** First backoff (default 1 s), doubled per attempt, full jitter. */
  backoffBaseMs?: number;
  log: Logger;
}

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** For receivers (and tests): whether `signature` is the HMAC of `timestamp.body`. */
export function verifySignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(sign(secret, timestamp, body));
  const got = Buffer.from(signature);
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** Sends `payload`; resolves true once delivered, false when every attempt failed (logged). */
export async function postWebhook(url: string, payload: unknown, secret: string | undefined, o: WebhookOptions): Promise<boolean> {
  const body = JSON.stringify(payload);
  const attempts = o.attempts ?? 5;
  const base = o.backoffBaseMs ?? 1_000;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // Signed per attempt: a retry carries a fresh timestamp, so receivers can keep a short replay window.
    const timestamp = String(Date.now());
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'parley-handoff' };
    if (secret) {
      headers[TIMESTAMP_HEADER] = timestamp;
      headers[SIGNATURE_HEADER] = sign(secret, timestamp, body);
    }
    let retryable = true;
    let status: number | undefined;
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return true;
      retryable = res.status === 429 || res.status >= 500;
    } catch (err) {
      o.log.warn({ err: describe(err), attempt }, 'handoff webhook failed');
    }
    if (status !== undefined) o.log.warn({ status, attempt }, 'handoff webhook refused');
    if (!retryable || attempt === attempts) break;
    const wait = Math.random() * Math.min(MAX_BACKOFF_MS, base * 2 ** (attempt - 1));
    await new Promise((r) => setTimeout(r, wait));
  }
  o.log.error({ attempts }, 'handoff webhook gave up');
  return false;
}
