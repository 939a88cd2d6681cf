import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Logger } from '../kernel/logger.js';
import { HttpError, sendJson, type HttpServer } from '../server/http.js';
import { optionalAuth } from '../server/routes.js';
import { buildReport } from '../analytics/report.js';
import type { SupportAnalytics } from '../analytics/support-analytics.js';
import type { ReviewService } from '../review/service.js';
import { adminAuth, same, SESSION_COOKIE, sessionValue } from './auth.js';
import { CHART_PATH, DASHBOARD_SCRIPT, DATA_PATH, SCRIPT_PATH, dashboardHtml, loginHtml } from './page.js';
import { blankIsAbsent, sinceParam } from './query.js';
import { mountReviewRoutes } from './review.js';
import { REVIEW_SCRIPT } from './review-page.js';

/**
 * `GET /dashboard`: the support figures as charts, for whoever holds ADMIN_TOKEN (auth.ts).
 * `GET /dashboard/data` is the JSON the page reads (the same report as `parley stats --format
 * json`). With the review service, the page also shows the review queue, read and changed
 * through `/dashboard/review` (review.ts).
 */
const COOKIE_MAX_AGE_S = 7 * 86_400; // a week, then sign in again
/** The sign-in form holds one token (16+ characters): anything this long is not a sign-in. */
const LOGIN_MAX_BODY_BYTES = 10_000;
// Only this server's own files; the page has no inline script.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'";

export interface DashboardDeps {
  http: HttpServer;
  analytics: SupportAnalytics;
  /** The review queue (issue 12); without it the page has no review card and /dashboard/review is 404. */
  review?: ReviewService;
  /** ADMIN_TOKEN; without it the dashboard answers 404 with how to enable it. */
  adminToken?: string;
  log: Logger;
  now?: () => number;
}

const dataQuerySchema = z.object({
  since: z.string().default('7d'),
  profile: z.preprocess(blankIsAbsent, z.string().optional()),
  platform: z.preprocess(blankIsAbsent, z.string().optional()),
});
const loginFormSchema = z.object({ token: z.string().default('') });

function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': CSP,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(html);
}

/** Chart.js's UMD build, from the installed package (resolved once). */
async function chartJsFile(): Promise<Buffer> {
  const main = createRequire(import.meta.url).resolve('chart.js');
  return readFile(join(dirname(main), 'chart.umd.min.js'));
}

export function mountDashboard(d: DashboardDeps): void {
  const { http } = d;
  const token = d.adminToken;
  if (!token) {
    http.route({
      method: 'GET',
      path: '/dashboard',
      auth: 'none',
      handler: () => {
        throw new HttpError(404, 'dashboard_disabled', 'Set ADMIN_TOKEN (16+ characters) to enable the dashboard.');
      },
    });
    return;
  }
  const admin = adminAuth(token);
  let chart: Promise<Buffer> | undefined;
  const review = d.review !== undefined;
  // One served script: the charts, then the review queue's card when there is one.
  const script = review ? DASHBOARD_SCRIPT + REVIEW_SCRIPT : DASHBOARD_SCRIPT;

  http.route({
    method: 'GET',
    path: '/dashboard',
    // Not signed in is not an error here: the page is the sign-in form.
    auth: optionalAuth(admin),
    handler: ({ auth, res }) => (auth ? sendHtml(res, 200, dashboardHtml({ review })) : sendHtml(res, 401, loginHtml(false))),
  });

  http.route({
    method: 'POST',
    path: '/dashboard/login',
    auth: 'none',
    body: { type: 'form', schema: loginFormSchema, maxBytes: LOGIN_MAX_BODY_BYTES },
    handler: ({ body, res }) => {
      if (!same(body.token, token)) {
        d.log.warn('dashboard sign-in refused');
        return sendHtml(res, 401, loginHtml(true));
      }
      res.writeHead(303, {
        location: '/dashboard',
        'set-cookie': `${SESSION_COOKIE}=${sessionValue(token)}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}`,
      });
      res.end();
    },
  });

  http.route({
    method: 'GET',
    path: DATA_PATH,
    auth: admin,
    query: dataQuerySchema,
    handler: async ({ query, res }) => {
      const now = d.now?.() ?? Date.now();
      const report = await buildReport(d.analytics, { since: sinceParam(query.since, now), until: now, profile: query.profile, platform: query.platform });
      sendJson(res, 200, report, { 'cache-control': 'no-store' });
    },
  });

  http.route({
    method: 'GET',
    path: CHART_PATH,
    auth: 'none',
    handler: async ({ res }) => {
      chart ??= chartJsFile();
      const body = await chart;
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=86400', 'content-length': body.length });
      res.end(body);
    },
  });

  http.route({
    method: 'GET',
    path: SCRIPT_PATH,
    auth: 'none',
    handler: ({ res }) => {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(script);
    },
  });

  if (d.review) mountReviewRoutes({ http, review: d.review, auth: admin, log: d.log, now: d.now });
}
