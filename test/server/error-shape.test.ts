import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SupportAnalytics } from '../../src/analytics/support-analytics.js';
import { loadConfig } from '../../src/config/env.js';
import { mountDashboard } from '../../src/dashboard/index.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Metrics } from '../../src/ops/metrics.js';
import { mountOps } from '../../src/ops/routes.js';
import { ApiKeyring, hashApiKey } from '../../src/platforms/http-api/keys.js';
import { mountApiRoutes } from '../../src/platforms/http-api/routes.js';
import { askRequestSchema } from '../../src/platforms/http-api/schemas.js';
import { mountSlackEvents } from '../../src/platforms/slack/verify.js';
import { errorBodySchema } from '../../src/server/errors.js';
import { HttpServer } from '../../src/server/http.js';
import { openStore, type Store } from '../../src/store/store.js';
import { signSlackRequest } from '../fakes/slack/signing.js';
import { startSlackWorld, type SlackWorld } from '../platforms/slack/harness.js';

/**
 * One error body from every route family: the server's own (health), ops, the HTTP API, the
 * dashboard and its review queue, and Slack's events, for 404, 405, 413, 400 (with the field),
 * 401 and 500. Each body is exactly `{ error: { code, message, field? } }`.
 */
const API_KEY = 'pk_shape_0123456789abcdef';
const ADMIN_TOKEN = 'shape-admin-token-0123456789';
const oneErrorBody = errorBodySchema.extend({ error: errorBodySchema.shape.error.strict() }).strict();

/** A POST signed as Slack signs it. */
function slackPost(url: string, body: string, secret: string): Promise<Response> {
  const ts = Math.floor(Date.now() / 1000);
  return fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(secret, ts, body) },
  });
}

interface Refusal {
  status: number;
  code: string;
  field?: string;
}

async function refusal(res: Response | Promise<Response>): Promise<Refusal> {
  const r = await res;
  const text = await r.text();
  expect(r.headers.get('content-type'), `${r.status} ${text}`).toMatch(/^application\/json/);
  const { error } = oneErrorBody.parse(JSON.parse(text));
  expect(error.message.length).toBeGreaterThan(0);
  if (error.field) expect(error.message.startsWith(`${error.field}: `), error.message).toBe(true);
  return { status: r.status, code: error.code, ...(error.field ? { field: error.field } : {}) };
}

describe('every route family of a running Parley', () => {
  let w: SlackWorld;
  let base: string;
  beforeAll(async () => {
    w = await startSlackWorld({ env: { API_KEYS: `main:${hashApiKey(API_KEY)}`, ADMIN_TOKEN, API_MAX_QUESTION_CHARS: '100' } });
    base = `http://127.0.0.1:${w.parley.port}`;
  }, 60_000);
  afterAll(() => w?.stop());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });
  const send = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method, body, headers: { 'content-type': 'application/json', ...headers } });
  const key = { authorization: `Bearer ${API_KEY}` };
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const big = 'x'.repeat(600 * 1024);

  it('answers 404 and 405 with the one error body, in every family', async () => {
    const notFound = { status: 404, code: 'not_found' };
    const notAllowed = { status: 405, code: 'method_not_allowed' };
    expect(await refusal(get('/nope'))).toEqual(notFound);
    expect(await refusal(get('/api/v1/nope', key))).toEqual(notFound);
    expect(await refusal(get('/dashboard/nope', admin))).toEqual(notFound);
    expect(await refusal(send('POST', '/healthz', '{}'))).toEqual(notAllowed);
    expect(await refusal(send('POST', '/metrics', '{}'))).toEqual(notAllowed);
    expect(await refusal(get('/api/v1/ask', key))).toEqual(notAllowed);
    expect(await refusal(send('DELETE', '/dashboard/data', '', admin))).toEqual(notAllowed);
    expect(await refusal(get('/slack/events'))).toEqual(notAllowed);
  });

  it('answers 401 without credentials, 413 for a body too large and 400 naming the field, in every family that takes them', async () => {
    const unauthorized = { status: 401, code: 'unauthorized' };
    expect(await refusal(send('POST', '/api/v1/ask', '{"question":"hi"}'))).toEqual(unauthorized);
    expect(await refusal(get('/dashboard/data'))).toEqual(unauthorized);
    expect(await refusal(get('/dashboard/review'))).toEqual(unauthorized);
    expect(await refusal(send('POST', '/slack/events', '{"type":"event_callback"}'))).toEqual(unauthorized);

    const tooLarge = { status: 413, code: 'payload_too_large' };
    expect(await refusal(send('POST', '/api/v1/ask', big, key))).toEqual(tooLarge);
    expect(await refusal(send('POST', '/dashboard/login', big, { 'content-type': 'application/x-www-form-urlencoded' }))).toEqual(tooLarge);
    expect(await refusal(send('POST', '/dashboard/review/r1', big, admin))).toEqual(tooLarge);
    expect(await refusal(slackPost(`${base}/slack/events`, big, w.slack.signingSecret))).toEqual(tooLarge);

    expect(await refusal(send('POST', '/api/v1/ask', '{"question":""}', key))).toEqual({ status: 400, code: 'invalid_request', field: 'question' });
    expect(await refusal(send('POST', '/api/v1/ask', '{"question":', key))).toEqual({ status: 400, code: 'invalid_json', field: 'body' });
    expect(await refusal(get('/api/v1/tasks/nope', key))).toEqual({ status: 400, code: 'invalid_request', field: 'id' });
    expect(await refusal(get('/dashboard/data?since=soon', admin))).toEqual({ status: 400, code: 'invalid_request', field: 'since' });
    expect(await refusal(get('/dashboard/review?limit=0', admin))).toEqual({ status: 400, code: 'invalid_request', field: 'limit' });
    expect(await refusal(send('POST', '/dashboard/review/r1', '{"verdict":"meh"}', admin))).toEqual({ status: 400, code: 'invalid_request', field: 'verdict' });
    // Slack's body is verified as raw bytes, never parsed first: signed garbage passes the route's auth and Bolt refuses it.
    const signedGarbage = await slackPost(`${base}/slack/events`, '{"not json', w.slack.signingSecret);
    expect(signedGarbage.status).not.toBe(401);
    expect(w.openai.chatRequests).toHaveLength(0);
  });
});

describe('a failure of ours (500), in every family', () => {
  let http: HttpServer;
  let store: Store;
  let base: string;
  const SECRET = 'shape-signing-secret';
  const broken = () => {
    throw new Error('secret detail of a failure');
  };
  beforeAll(async () => {
    http = new HttpServer(silentLogger());
    store = await openStore('memory://');
    const log = silentLogger();
    // The families' own mount functions, each with a dependency that fails.
    mountApiRoutes(http, {
      keyring: new ApiKeyring([{ name: 'main', sha256: hashApiKey(API_KEY) }], store),
      askSchema: askRequestSchema(100),
      corsOrigins: [],
      maxBodyBytes: 10_000,
      log,
      accepting: () => true,
      knownProfile: () => true,
      estimateTokens: () => 1,
      ask: async () => broken(),
      submitTask: async () => broken(),
      getTask: async () => broken(),
      forgetUser: async () => broken(),
      forgetConversation: async () => broken(),
    });
    const failing = new Proxy({}, { get: () => broken });
    mountDashboard({ http, analytics: failing as SupportAnalytics, adminToken: ADMIN_TOKEN, log });
    mountOps(http, { config: loadConfig({}), store, adapters: [], metrics: { registry: failing } as unknown as Metrics });
    mountSlackEvents(http, '/slack/events', broken, { signingSecret: SECRET, stopped: () => false, log });
    base = `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
  });
  afterAll(async () => {
    await http?.close();
    await store?.close();
  });

  it('answers 500 internal_error, saying nothing of the failure', async () => {
    const internal = { status: 500, code: 'internal_error' };
    const failures = [
      fetch(`${base}/api/v1/tasks/t_0000000000000000000000`, { headers: { authorization: `Bearer ${API_KEY}` } }),
      fetch(`${base}/dashboard/data`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      fetch(`${base}/metrics`),
      slackPost(`${base}/slack/events`, '{"type":"event_callback"}', SECRET),
    ];
    for (const res of failures) {
      const r = await res;
      const text = await r.clone().text();
      expect(text).not.toContain('secret detail');
      expect(await refusal(r)).toEqual(internal);
    }
  });
});
