import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ConfigError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import { readBody, sendJson, type HttpServer } from '../server/http.js';
import { firstIssue } from '../server/validation.js';
import { parseSince } from '../analytics/report.js';
import { REVIEW_REASONS, REVIEW_STATUSES } from '../review/queue.js';
import { ReviewError, type ReviewService } from '../review/service.js';
import { REVIEW_PATH } from './review-page.js';

/**
 * The review queue's JSON endpoints (issue 12), behind the dashboard's sign-in:
 * - `GET /dashboard/review?since=7d&status=open&reason=&profile=&limit=100` → `{ since, total, items }`, the weakest `limit` first.
 * - `POST /dashboard/review/<id>` with `{ "verdict": "good"|"bad", "note"?, "by"? }` → `{ item }`,
 *   or `{ "correction": "text", "note"?, "by"? }` → `{ item, faq, answersFromFaq, alsoCorrected }`.
 * POSTs change state with the sign-in cookie, so besides SameSite=Strict they must be JSON (a
 * cross-site form cannot send that without a CORS preflight, which is never granted) and, when
 * the browser says where it comes from, come from this very host.
 */
export interface ReviewRouteDeps {
  http: HttpServer;
  review: ReviewService;
  /** The dashboard's check: Bearer ADMIN_TOKEN or the sign-in cookie. */
  authorized: (req: IncomingMessage) => boolean;
  log: Logger;
  now?: () => number;
}

/** The longest request body (a corrected answer and a note). */
export const REVIEW_MAX_BODY_BYTES = 64_000;
const MAX_ANSWER_CHARS = 20_000;
const DEFAULT_REVIEWER = 'dashboard';
/** The weakest this many are sent (with the total): a busy quarter can queue thousands. */
const DEFAULT_LIST = 100;
const MAX_LIST = 500;

const text = (what: string, max: number) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'required' : 'expected a string') })
    .trim()
    .min(1, { message: 'must not be empty' })
    .max(max, { message: `longer than ${max} characters` })
    .describe(what);

const bodySchema = z
  .strictObject(
    {
      verdict: z.enum(['good', 'bad'], { error: 'expected "good" or "bad"' }).optional(),
      correction: text('the corrected answer', MAX_ANSWER_CHARS).optional(),
      question: text('the FAQ question', 500).min(3, { message: 'at least 3 characters' }).optional(),
      note: text('why', 2_000).optional(),
      by: text('the reviewer', 100).optional(),
    },
    { error: 'expected a JSON object' },
  )
  .superRefine((b, ctx) => {
    if (b.verdict === undefined && b.correction === undefined) {
      ctx.addIssue({ code: 'custom', path: ['verdict'], message: 'send "verdict": "good" or "bad", or "correction": "<the corrected answer>"' });
    } else if (b.verdict !== undefined && b.correction !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['correction'], message: 'send either "verdict" or "correction", not both' });
    } else if (b.question !== undefined && b.correction === undefined) {
      ctx.addIssue({ code: 'custom', path: ['question'], message: 'goes with "correction" (the FAQ question the corrected answer is saved under)' });
    }
  });

const blankIsAbsent = (v: unknown) => (v === '' || v === null ? undefined : v);
const querySchema = z.strictObject({
  since: z.string().default('7d'),
  status: z.preprocess(
    blankIsAbsent,
    z.enum([...REVIEW_STATUSES, 'all'], { error: `expected one of ${[...REVIEW_STATUSES, 'all'].join(', ')}` }).default('open'),
  ),
  reason: z.preprocess(blankIsAbsent, z.enum(REVIEW_REASONS, { error: `expected one of ${REVIEW_REASONS.join(', ')}` }).optional()),
  profile: z.preprocess(blankIsAbsent, z.string().max(64).optional()),
  limit: z.preprocess(blankIsAbsent, z.coerce.number({ error: 'expected a number' }).int().min(1).max(MAX_LIST).default(DEFAULT_LIST)),
});

function invalid(res: ServerResponse, error: z.ZodError): void {
  sendJson(res, 400, { error: 'invalid_request', ...firstIssue(error, 'body') });
}

/** The media type of the request body, without parameters. */
function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** An absent Origin (curl, scripts) passes; a present one must name this host exactly. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    const o = new URL(origin);
    // The Host header as a URL host (default port dropped, lower case), to compare like with like.
    return o.host === new URL(`${o.protocol}//${req.headers.host ?? ''}`).host;
  } catch {
    return false; // "null" (sandboxed frames, some redirects) and anything unparsable
  }
}

const UNAUTHORIZED = { error: 'unauthorized', message: 'send Authorization: Bearer <ADMIN_TOKEN>, or sign in at /dashboard' };

export function mountReviewRoutes(d: ReviewRouteDeps): void {
  const { http, review } = d;

  http.route('GET', REVIEW_PATH, async (req, res) => {
    if (!d.authorized(req)) return sendJson(res, 401, UNAUTHORIZED);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = querySchema.safeParse(Object.fromEntries(url.searchParams));
    if (!q.success) return invalid(res, q.error);
    const now = d.now?.() ?? Date.now();
    let since: number;
    try {
      since = parseSince(q.data.since, now);
    } catch (err) {
      return sendJson(res, 400, { error: 'invalid_request', field: 'since', message: `since: ${err instanceof Error ? err.message : String(err)}` });
    }
    const items = await review.list({ since, until: now, status: q.data.status, reason: q.data.reason, profile: q.data.profile });
    sendJson(res, 200, { since: new Date(since).toISOString(), total: items.length, items: items.slice(0, q.data.limit) }, { 'cache-control': 'no-store' });
  });

  http.route('POST', `${REVIEW_PATH}/*`, async (req, res) => {
    if (!d.authorized(req)) return sendJson(res, 401, UNAUTHORIZED);
    if (!sameOrigin(req)) {
      d.log.warn({ origin: req.headers.origin }, 'review change from another origin refused');
      return sendJson(res, 403, { error: 'origin_not_allowed', message: `requests from ${req.headers.origin} may not change the review queue` });
    }
    if (mediaType(req) !== 'application/json') {
      return sendJson(res, 415, { error: 'unsupported_media_type', message: 'send the body as JSON, with Content-Type: application/json' });
    }
    let id: string;
    try {
      id = decodeURIComponent((req.url ?? '/').split('?')[0]!.slice(REVIEW_PATH.length + 1));
    } catch {
      id = '';
    }
    if (!/^[\w-]{1,64}$/.test(id))
      return sendJson(res, 404, { error: 'review_not_found', message: 'POST /dashboard/review/<id>, with the id of a review item' });

    // Too long: the server answers 413 payload_too_large (readBody's HttpError).
    const raw = await readBody(req, REVIEW_MAX_BODY_BYTES);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return sendJson(res, 400, { error: 'invalid_json', field: 'body', message: 'body: not valid JSON; send {"verdict": "good"} or {"correction": "…"}' });
    }
    const body = bodySchema.safeParse(json);
    if (!body.success) return invalid(res, body.error);
    const { verdict, correction, note, question } = body.data;
    const by = body.data.by ?? DEFAULT_REVIEWER;

    try {
      if (correction !== undefined) {
        const done = await review.correct(id, { answer: correction, by, note, question });
        d.log.info({ review: id, by, file: done.faq.file }, 'answer corrected from the dashboard');
        return sendJson(res, 200, done);
      }
      const item = await review.mark(id, verdict!, by, note);
      return sendJson(res, 200, { item });
    } catch (err) {
      if (err instanceof ReviewError) return sendJson(res, err.code === 'review_not_found' ? 404 : 409, { error: err.code, message: err.message });
      // The FAQ file cannot take the answer (not valid YAML, not a list): fix the file, then save again.
      if (err instanceof ConfigError) return sendJson(res, 409, { error: 'faq_file_invalid', message: err.message });
      throw err;
    }
  });
}
