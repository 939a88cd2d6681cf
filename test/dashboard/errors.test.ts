import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SupportAnalytics } from '../../src/analytics/support-analytics.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { mountDashboard } from '../../src/dashboard/index.js';
import { REVIEW_MAX_BODY_BYTES } from '../../src/dashboard/review.js';
import type { ReviewService } from '../../src/review/service.js';
import { HttpServer } from '../../src/server/http.js';

/**
 * The dashboard's client errors without a browser: bodies too large (the sign-in form included)
 * and a `since` it cannot read. None of these reach the analytics or the review queue.
 */
const TOKEN = 'errors-admin-token-0123456789';
const BEARER = { authorization: `Bearer ${TOKEN}` };
const unused = new Proxy(
  {},
  {
    get: (_t, name) => {
      throw new Error(`not expected: ${String(name)}`);
    },
  },
);

let http: HttpServer;
let base: string;

beforeAll(async () => {
  http = new HttpServer(silentLogger());
  mountDashboard({ http, analytics: unused as SupportAnalytics, review: unused as ReviewService, adminToken: TOKEN, log: silentLogger() });
  base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
});
afterAll(() => http?.close());

describe('dashboard client errors', () => {
  it('answers an oversized sign-in form 413, not 500', async () => {
    const res = await fetch(`${base}/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${'x'.repeat(20_000)}`,
      redirect: 'manual',
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ error: { code: 'payload_too_large', message: 'the request body is larger than 10000 bytes' } });
    // A form that fits is still read: a wrong token is refused with the sign-in page.
    const wrong = await fetch(`${base}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }), redirect: 'manual' });
    expect(wrong.status).toBe(401);
  });

  it('answers an oversized review change 413 payload_too_large', async () => {
    const res = await fetch(`${base}/dashboard/review/abc123`, {
      method: 'POST',
      headers: { ...BEARER, 'content-type': 'application/json' },
      body: JSON.stringify({ correction: 'x'.repeat(REVIEW_MAX_BODY_BYTES) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ error: { code: 'payload_too_large', message: `the request body is larger than ${REVIEW_MAX_BODY_BYTES} bytes` } });
  });

  it('names the `since` parameter, not the CLI flag, when it cannot read it', async () => {
    const data = await fetch(`${base}/dashboard/data?since=yesterday`, { headers: BEARER });
    expect(data.status).toBe(400);
    // The same body as every other 400 (it was `{ error: 'bad_since', message }` before the one HTTP layer).
    expect(await data.json()).toEqual({
      error: { code: 'invalid_request', field: 'since', message: 'since: expected a duration like 7d, 24h, 2w or a date like 2026-11-01 (got "yesterday")' },
    });
    const review = await fetch(`${base}/dashboard/review?since=yesterday`, { headers: BEARER });
    expect(review.status).toBe(400);
    expect(await review.json()).toEqual({
      error: { code: 'invalid_request', field: 'since', message: 'since: expected a duration like 7d, 24h, 2w or a date like 2026-11-01 (got "yesterday")' },
    });
  });
});
