import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../kernel/logger.js';
import { HttpError, readBody, type HttpServer } from '../../server/http.js';
import type { AuthScheme } from '../../server/routes.js';

/**
 * Slack's own requests are small: an event envelope with a long message and its blocks is tens
 * of KB (message text is capped at 40,000 characters, 50 blocks of 3,000). Anything larger is
 * not from Slack and is refused while reading, before it is buffered.
 */
export const SLACK_EVENTS_MAX_BODY_BYTES = 512 * 1024;
/** Slack: a request whose timestamp is more than 5 minutes from now, either way, must be refused (replays). */
export const SLACK_TIMESTAMP_TOLERANCE_S = 5 * 60;

/** A request to /slack/events carrying the raw bytes its signature was checked over, for Bolt's receiver. */
export type SignedSlackRequest = IncomingMessage & { rawBody?: Buffer };

/**
 * Slack's request signature as the /slack/events route's auth: checked in the order that costs
 * least: the timestamp header (both ways), then the body, read raw up to
 * SLACK_EVENTS_MAX_BODY_BYTES (413 beyond, while reading), then the signature over exactly the
 * bytes read (401). Nothing is parsed before it is verified. On success the bytes are left on
 * `req.rawBody`, where Bolt's receiver takes them instead of reading the (consumed) stream, and
 * verifies them again.
 *
 * The one request Slack sends unsigned, the `ssl_check` probe of slash-command URLs, is passed
 * on (Bolt answers it and drops anything else in its body).
 */
export function slackSignatureAuth(signingSecret: string, log: Logger, now: () => number = Date.now): AuthScheme<'slack'> {
  const refuse = (reason: string) => {
    log.warn({ status: 401, reason }, 'slack request refused');
    return new HttpError(401, 'unauthorized', `not a signed Slack request: ${reason}`);
  };
  return {
    name: 'slackSignature',
    async authenticate(req: SignedSlackRequest): Promise<'slack'> {
      const timestamp = header(req, 'x-slack-request-timestamp');
      const signature = header(req, 'x-slack-signature');
      if (timestamp !== undefined) {
        const seconds = Number(timestamp);
        if (!Number.isInteger(seconds) || Math.abs(now() / 1000 - seconds) > SLACK_TIMESTAMP_TOLERANCE_S) throw refuse('timestamp outside the 5-minute window');
      }
      let body: Buffer;
      try {
        body = await readBody(req, SLACK_EVENTS_MAX_BODY_BYTES);
      } catch (err) {
        if (err instanceof HttpError) log.warn({ status: err.status, reason: err.code }, 'slack request refused');
        throw err;
      }
      req.rawBody = body;
      if (timestamp === undefined && signature === undefined && isSslCheck(req, body)) return 'slack';
      if (timestamp === undefined || signature === undefined || !validSignature(signingSecret, timestamp, body, signature)) throw refuse('signature mismatch');
      return 'slack';
    },
  };
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

/**
 * `POST /slack/events`: 503 while the adapter stops, Slack's signature as the route's auth
 * (above), then Bolt's receiver, which reads `req.rawBody` and answers the request itself.
 */
export function mountSlackEvents(
  http: HttpServer,
  path: string,
  listener: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  o: { signingSecret: string; stopped: () => boolean; log: Logger },
): void {
  http.route({
    method: 'POST',
    path,
    auth: slackSignatureAuth(o.signingSecret, o.log),
    available: () => !o.stopped(),
    handler: ({ req, res }) => listener(req, res),
  });
}
