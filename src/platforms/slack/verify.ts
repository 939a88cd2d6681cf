import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../kernel/logger.js';
import { readBody, type RouteHandler } from '../../server/http.js';

/**
 * Slack's own requests are small: an event envelope with a long message and its blocks is tens
 * of KB (message text is capped at 40,000 characters, 50 blocks of 3,000). Anything larger is
 * not from Slack and is refused while reading, before it is buffered.
 */
export const SLACK_EVENTS_MAX_BODY_BYTES = 512 * 1024;
/** Slack: a request whose timestamp is more than 5 minutes from now, either way, must be refused (replays). */
export const SLACK_TIMESTAMP_TOLERANCE_S = 5 * 60;

/** Why a request to /slack/events is refused before Bolt sees it, or undefined to pass it on. */
export type SlackRefusal = { status: 401 | 413; reason: string };

/**
 * Checks a request to /slack/events in the order that costs least: the timestamp header (both
 * ways), then the body, read up to SLACK_EVENTS_MAX_BODY_BYTES, then the signature over exactly
 * the bytes read. On success the bytes are left on `req.rawBody`, where Bolt's receiver takes
 * them instead of reading the (consumed) stream, and verifies them again.
 *
 * The one request Slack sends unsigned, the `ssl_check` probe of slash-command URLs, is passed
 * on (Bolt answers it and drops anything else in its body).
 */
export async function checkSlackRequest(req: IncomingMessage, signingSecret: string, now = Date.now()): Promise<SlackRefusal | undefined> {
  const timestamp = header(req, 'x-slack-request-timestamp');
  const signature = header(req, 'x-slack-signature');
  if (timestamp !== undefined) {
    const seconds = Number(timestamp);
    if (!Number.isInteger(seconds) || Math.abs(now / 1000 - seconds) > SLACK_TIMESTAMP_TOLERANCE_S) {
      return { status: 401, reason: 'timestamp outside the 5-minute window' };
    }
  }
  let body: Buffer;
  try {
    body = await readBody(req, SLACK_EVENTS_MAX_BODY_BYTES);
  } catch (err) {
    if ((err as { status?: number }).status === 413) return { status: 413, reason: 'body too large' };
    throw err;
  }
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
  if (timestamp === undefined && signature === undefined && isSslCheck(req, body)) return undefined;
  if (timestamp === undefined || signature === undefined || !validSignature(signingSecret, timestamp, body, signature)) {
    return { status: 401, reason: 'signature mismatch' };
  }
  return undefined;
}

/** `v0=` + hex HMAC-SHA256(secret, `v0:{timestamp}:{body}`), compared in constant time. */
function validSignature(secret: string, timestamp: string, body: Buffer, signature: string): boolean {
  const mac = createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest();
  const m = /^v0=([0-9a-f]{64})$/i.exec(signature);
  return m !== null && timingSafeEqual(mac, Buffer.from(m[1]!, 'hex'));
}

function isSslCheck(req: IncomingMessage, body: Buffer): boolean {
  return /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '') && new URLSearchParams(body.toString('utf8')).get('ssl_check') === '1';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Answers a refused request (the rest of a body not read is discarded by Node as it arrives). */
export function refuse(res: ServerResponse, r: SlackRefusal): void {
  res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(r.status === 413 ? 'payload too large' : 'unauthorized');
}

/** The /slack/events route: 503 while stopping, the checks above, then Bolt's receiver. */
export function guardedEventsRoute(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
  secret: string,
  o: { stopped: () => boolean; log: Logger },
): RouteHandler {
  return async (req, res) => {
    if (o.stopped()) return void res.writeHead(503).end();
    const refusal = await checkSlackRequest(req, secret);
    if (refusal) {
      o.log.warn({ status: refusal.status, reason: refusal.reason }, 'slack request refused');
      return refuse(res, refusal);
    }
    listener(req, res);
  };
}
