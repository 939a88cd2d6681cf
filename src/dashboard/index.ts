import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../kernel/logger.js';
import { readBody, sendJson, type HttpServer } from '../server/http.js';
import { buildReport, parseSince } from '../analytics/report.js';
import type { SupportAnalytics } from '../analytics/support-analytics.js';
import type { ReviewService } from '../review/service.js';
import { CHART_PATH, DASHBOARD_SCRIPT, DATA_PATH, SCRIPT_PATH, dashboardHtml, loginHtml } from './page.js';
import { mountReviewRoutes } from './review.js';
import { REVIEW_SCRIPT } from './review-page.js';

/**
 * `GET /dashboard`: the support figures as charts, for whoever holds ADMIN_TOKEN. Browsers sign
 * in with a form and get a cookie holding an HMAC of the token (never the token itself);
 * scripts send `Authorization: Bearer <ADMIN_TOKEN>`. `GET /dashboard/data` is the JSON the
 * page reads (the same report as `parley stats --format json`). With the review service, the
 * page also shows the review queue, read and changed through `/dashboard/review` (review.ts).
 */
const COOKIE = 'parley_admin';
const COOKIE_MAX_AGE_S = 7 * 86_400; // a week, then sign in again
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

function sessionValue(token: string): string {
  return createHmac('sha256', token).update('parley-dashboard-session').digest('base64url');
}

/** Compares digests, which always have one length, so the time taken says nothing about the token's length either. */
function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export function isAuthorized(req: IncomingMessage, token: string): boolean {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ') && same(auth.slice(7).trim(), token)) return true;
  const cookie = cookieOf(req, COOKIE);
  return cookie !== undefined && same(cookie, sessionValue(token));
}

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
    http.route('GET', '/dashboard', (_req, res) =>
      sendJson(res, 404, { error: 'dashboard_disabled', message: 'Set ADMIN_TOKEN (16+ characters) to enable the dashboard.' }),
    );
    return;
  }
  let chart: Promise<Buffer> | undefined;
  const review = d.review !== undefined;
  // One served script: the charts, then the review queue's card when there is one.
  const script = review ? DASHBOARD_SCRIPT + REVIEW_SCRIPT : DASHBOARD_SCRIPT;

  http.route('GET', '/dashboard', (req, res) => {
    if (!isAuthorized(req, token)) return sendHtml(res, 401, loginHtml(false));
    sendHtml(res, 200, dashboardHtml({ review }));
  });

  http.route('POST', '/dashboard/login', async (req, res) => {
    // A longer form is answered 413 by the server (readBody's HttpError).
    const form = new URLSearchParams((await readBody(req, 10_000)).toString('utf8'));
    if (!same(form.get('token') ?? '', token)) {
      d.log.warn('dashboard sign-in refused');
      return sendHtml(res, 401, loginHtml(true));
    }
    res.writeHead(303, {
      location: '/dashboard',
      'set-cookie': `${COOKIE}=${sessionValue(token)}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}`,
    });
    res.end();
  });

  http.route('GET', DATA_PATH, async (req, res) => {
    if (!isAuthorized(req, token))
      return sendJson(res, 401, { error: 'unauthorized', message: 'send Authorization: Bearer <ADMIN_TOKEN>, or sign in at /dashboard' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const now = d.now?.() ?? Date.now();
    let since: number;
    try {
      since = parseSince(url.searchParams.get('since') ?? '7d', now);
    } catch (err) {
      return sendJson(res, 400, { error: 'bad_since', message: `since: ${err instanceof Error ? err.message : String(err)}` });
    }
    const report = await buildReport(d.analytics, {
      since,
      until: now,
      profile: url.searchParams.get('profile') || undefined,
      platform: url.searchParams.get('platform') || undefined,
    });
    sendJson(res, 200, report, { 'cache-control': 'no-store' });
  });

  http.route('GET', CHART_PATH, async (_req, res) => {
    chart ??= chartJsFile();
    const body = await chart;
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=86400', 'content-length': body.length });
    res.end(body);
  });

  http.route('GET', SCRIPT_PATH, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(script);
  });

  if (d.review) mountReviewRoutes({ http, review: d.review, authorized: (req) => isAuthorized(req, token), log: d.log, now: d.now });
}
