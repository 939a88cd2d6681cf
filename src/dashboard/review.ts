import { z } from 'zod';
import { ConfigError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import { HttpError, sendJson, type HttpServer } from '../server/http.js';
import type { AuthScheme } from '../server/routes.js';
import { blankIsAbsent, sinceParam } from './query.js';
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
  /** The dashboard's: Bearer ADMIN_TOKEN or the sign-in cookie. */
  auth: AuthScheme<'admin'>;
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

/** `POST /dashboard/review/<id>`: the ids the queue gives out. */
const paramsSchema = z.object({ id: z.string().regex(/^[\w-]{1,64}$/, { message: 'expected the id of a review item' }) });

export function mountReviewRoutes(d: ReviewRouteDeps): void {
  const { http, review } = d;

  http.route({
    method: 'GET',
    path: REVIEW_PATH,
    auth: d.auth,
    query: querySchema,
    handler: async ({ query, res }) => {
      const now = d.now?.() ?? Date.now();
      const since = sinceParam(query.since, now);
      const items = await review.list({ since, until: now, status: query.status, reason: query.reason, profile: query.profile });
      sendJson(res, 200, { since: new Date(since).toISOString(), total: items.length, items: items.slice(0, query.limit) }, { 'cache-control': 'no-store' });
    },
  });

  http.route({
    method: 'POST',
    path: `${REVIEW_PATH}/:id`,
    auth: d.auth,
    // Changes state with the sign-in cookie: only from this very site, and only as JSON.
    sameOrigin: true,
    params: paramsSchema,
    body: { schema: bodySchema, maxBytes: REVIEW_MAX_BODY_BYTES, requireJsonMediaType: true, example: '{"verdict": "good"} or {"correction": "…"}' },
    handler: async ({ params: { id }, body, res }) => {
      const { verdict, correction, note, question } = body;
      const by = body.by ?? DEFAULT_REVIEWER;
      try {
        if (correction !== undefined) {
          const done = await review.correct(id, { answer: correction, by, note, question });
          d.log.info({ review: id, by, file: done.faq.file }, 'answer corrected from the dashboard');
          return sendJson(res, 200, done);
        }
        const item = await review.mark(id, verdict!, by, note);
        return sendJson(res, 200, { item });
      } catch (err) {
        if (err instanceof ReviewError) throw new HttpError(err.code === 'review_not_found' ? 404 : 409, err.code, err.message);
        // The FAQ file cannot take the answer (not valid YAML, not a list): fix the file, then save again.
        if (err instanceof ConfigError) throw new HttpError(409, 'faq_file_invalid', err.message);
        throw err;
      }
    },
  });
}
