import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { silentLogger } from '../../src/kernel/logger.js';
import { errorBodySchema } from '../../src/server/errors.js';
import { HttpError, HttpServer, sendJson } from '../../src/server/http.js';
import { optionalAuth, type AuthScheme } from '../../src/server/routes.js';

/**
 * The one HTTP layer: routing (404, 405, HEAD, OPTIONS), auth, validation, CORS and the one
 * error body, whoever refuses the request.
 */
let http: HttpServer | undefined;
afterEach(async () => {
  await http?.close();
  http = undefined;
});

async function serve(mount: (h: HttpServer) => void): Promise<string> {
  http = new HttpServer(silentLogger());
  mount(http);
  return `http://127.0.0.1:${await http.listen(0, '127.0.0.1')}`;
}

/** Exactly `{ error: { code, message, field? } }`, nothing else. */
const oneErrorBody = errorBodySchema.extend({ error: errorBodySchema.shape.error.strict() }).strict();

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string; field?: string }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = oneErrorBody.parse(await res.json());
  return { status: res.status, ...body.error };
}

const token: AuthScheme<string> = {
  name: 'token',
  authenticate(req) {
    if (req.headers.authorization === 'Bearer sesame') return 'ali';
    throw new HttpError(401, 'unauthorized', 'say the word', { headers: { 'www-authenticate': 'Bearer' } });
  },
};

describe('HttpServer errors', () => {
  it("answers a body over the route's limit 413 payload_too_large and closes the connection", async () => {
    const base = await serve((h) =>
      h.route({
        method: 'POST',
        path: '/echo',
        auth: 'none',
        body: { schema: z.string(), maxBytes: 1_000 },
        handler: ({ res, body }) => sendJson(res, 200, { length: body.length }),
      }),
    );
    const ok = await fetch(`${base}/echo`, { method: 'POST', body: JSON.stringify('x'.repeat(998)) });
    expect([ok.status, await ok.json()]).toEqual([200, { length: 998 }]);
    for (const size of [1_001, 50_000, 2_000_000]) {
      const res = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(size) });
      expect(res.headers.get('connection'), String(size)).toBe('close');
      expect(await errorOf(res)).toEqual({ status: 413, code: 'payload_too_large', message: 'the request body is larger than 1000 bytes' });
    }
  });

  it('answers an HttpError with its status, code, field and headers, a library 4xx with its status, anything else 500 saying nothing', async () => {
    const base = await serve((h) => {
      const fail = (path: string, err: () => unknown) =>
        h.route({
          method: 'GET',
          path,
          auth: 'none',
          handler: () => {
            throw err();
          },
        });
      fail('/teapot', () => new HttpError(418, 'teapot', 'short and stout', { field: 'spout', headers: { 'retry-after': '5' } }));
      fail('/other', () => Object.assign(new Error('no such thing here'), { status: 422 }));
      fail('/bug', () => new Error('secret detail'));
      fail('/upstream', () => Object.assign(new Error('upstream down'), { status: 503 }));
    });
    const teapot = await fetch(`${base}/teapot`);
    expect(teapot.headers.get('retry-after')).toBe('5');
    expect(await errorOf(teapot)).toEqual({ status: 418, code: 'teapot', message: 'short and stout', field: 'spout' });
    expect(await errorOf(await fetch(`${base}/other`))).toEqual({ status: 422, code: 'unprocessable_entity', message: 'no such thing here' });
    for (const path of ['/bug', '/upstream']) {
      const err = await errorOf(await fetch(`${base}${path}`));
      expect([err.status, err.code]).toEqual([500, 'internal_error']);
      expect(err.message).not.toMatch(/secret|upstream/);
    }
  });

  it('answers 404 for no route, 405 with Allow for another method, HEAD like GET, and OPTIONS with Allow', async () => {
    const base = await serve((h) => {
      h.route({ method: 'GET', path: '/thing', auth: 'none', handler: ({ res }) => sendJson(res, 200, { ok: true }) });
      h.route({ method: 'DELETE', path: '/thing', auth: 'none', handler: ({ res }) => sendJson(res, 200, { deleted: true }) });
    });
    expect(await errorOf(await fetch(`${base}/nothing`))).toEqual({ status: 404, code: 'not_found', message: 'no such endpoint: /nothing' });
    // Exact paths: no trailing-slash or case games.
    for (const path of ['/thing/', '/Thing']) expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    const post = await fetch(`${base}/thing`, { method: 'POST' });
    expect(post.headers.get('allow')).toBe('GET, HEAD, DELETE');
    expect(await errorOf(post)).toMatchObject({ status: 405, code: 'method_not_allowed' });
    const head = await fetch(`${base}/thing?x=1`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([200, 'application/json; charset=utf-8', '']);
    const options = await fetch(`${base}/thing`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow'), options.headers.get('access-control-allow-origin')]).toEqual([
      204,
      'GET, HEAD, DELETE, OPTIONS',
      null,
    ]);
    expect((await fetch(`${base}/nothing`, { method: 'OPTIONS' })).status).toBe(404);
  });
});

describe('route declarations', () => {
  it('authenticate before validating, and validate params, query and body into 400s naming the field', async () => {
    const seen: unknown[] = [];
    const base = await serve((h) =>
      h.route({
        method: 'POST',
        path: '/items/:id',
        auth: token,
        params: z.object({ id: z.string().regex(/^i_\d+$/, { message: 'expected an item id' }) }),
        query: z.object({ dry: z.enum(['yes', 'no']).default('no') }),
        body: { schema: z.strictObject({ name: z.string().min(1) }), maxBytes: 1_000, example: '{"name": "…"}' },
        handler: ({ res, auth, params, query, body }) => {
          seen.push({ auth, params, query, body });
          sendJson(res, 200, { ok: true });
        },
      }),
    );
    const post = (path: string, body: string, auth = 'Bearer sesame') => fetch(`${base}${path}`, { method: 'POST', headers: { authorization: auth }, body });
    const unauthorized = await post('/items/nope', 'not json', 'Bearer wrong');
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer');
    expect(await errorOf(unauthorized)).toEqual({ status: 401, code: 'unauthorized', message: 'say the word' });
    expect(await errorOf(await post('/items/nope', '{}'))).toEqual({ status: 400, code: 'invalid_request', field: 'id', message: 'id: expected an item id' });
    // A malformed escape reaches the route as the parameter it is, and is refused by its schema.
    expect(await errorOf(await post('/items/%ZZ', '{}'))).toMatchObject({ status: 400, field: 'id' });
    expect(await errorOf(await post('/items/i_1?dry=maybe', '{}'))).toMatchObject({ status: 400, code: 'invalid_request', field: 'dry' });
    expect(await errorOf(await post('/items/i_1', '{"name":'))).toEqual({
      status: 400,
      code: 'invalid_json',
      field: 'body',
      message: 'body: not valid JSON; send {"name": "…"} with Content-Type: application/json',
    });
    for (const [body, field] of [
      ['{}', 'name'],
      ['{"name": ""}', 'name'],
      ['{"name": "a", "colour": "red"}', 'colour'],
      ['[1]', 'body'],
    ]) {
      const err = await errorOf(await post('/items/i_1', body!));
      expect([err.status, err.code, err.field, err.message.startsWith(`${field}: `)], body).toEqual([400, 'invalid_request', field, true]);
    }
    expect(seen).toEqual([]);
    expect((await post('/items/i_7?dry=yes', '{"name":"lamp"}')).status).toBe(200);
    expect(seen).toEqual([{ auth: 'ali', params: { id: 'i_7' }, query: { dry: 'yes' }, body: { name: 'lamp' } }]);
  });

  it('passes a request without credentials to an optional-auth route, with no principal', async () => {
    const base = await serve((h) =>
      h.route({ method: 'GET', path: '/page', auth: optionalAuth(token), handler: ({ res, auth }) => sendJson(res, 200, { auth }) }),
    );
    expect(await (await fetch(`${base}/page`)).json()).toEqual({});
    expect(await (await fetch(`${base}/page`, { headers: { authorization: 'Bearer sesame' } })).json()).toEqual({ auth: 'ali' });
  });

  it('refuses another site (403), a body not sent as JSON (415) and requests while unavailable (503 with Retry-After)', async () => {
    let available = true;
    const base = await serve((h) =>
      h.route({
        method: 'POST',
        path: '/change',
        auth: 'none',
        sameOrigin: true,
        available: () => available,
        body: { schema: z.object({}), maxBytes: 100, requireJsonMediaType: true },
        handler: ({ res }) => sendJson(res, 200, { changed: true }),
      }),
    );
    const post = (headers: Record<string, string>) => fetch(`${base}/change`, { method: 'POST', headers, body: '{}' });
    const json = { 'content-type': 'application/json; charset=utf-8' };
    expect(await errorOf(await post({ ...json, origin: 'https://evil.example' }))).toMatchObject({ status: 403, code: 'origin_not_allowed' });
    expect(await errorOf(await post({ 'content-type': 'text/plain' }))).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect((await post({ ...json, origin: base })).status).toBe(200);
    expect((await post(json)).status).toBe(200);
    available = false;
    const refused = await post(json);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await errorOf(refused)).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('runs `use` middlewares after validation, in order, each around the rest', async () => {
    const order: string[] = [];
    const base = await serve((h) =>
      h.route({
        method: 'GET',
        path: '/chain',
        auth: 'none',
        query: z.object({ stop: z.string().optional() }),
        use: [
          async (_ctx, next) => {
            order.push('a');
            await next();
            order.push('a after');
          },
          async (ctx, next) => {
            order.push('b');
            if (ctx.query.stop) throw new HttpError(429, 'rate_limited', 'slow down');
            await next();
          },
        ],
        handler: ({ res }) => {
          order.push('handler');
          sendJson(res, 200, {});
        },
      }),
    );
    expect((await fetch(`${base}/chain`)).status).toBe(200);
    expect(order).toEqual(['a', 'b', 'handler', 'a after']);
    order.length = 0;
    expect(await errorOf(await fetch(`${base}/chain?stop=1`))).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(order).toEqual(['a', 'b']);
  });
});

describe('route groups and CORS', () => {
  const ORIGIN = 'https://app.example.com';
  async function serveGroup(): Promise<string> {
    return serve((h) => {
      const g = h.group({
        prefix: '/api',
        cors: { origins: [ORIGIN], allowHeaders: 'Authorization, Content-Type', exposeHeaders: 'Retry-After', maxAgeS: 600 },
      });
      g.route({
        method: 'POST',
        path: '/ask',
        auth: token,
        body: { schema: z.object({ q: z.string() }), maxBytes: 100 },
        handler: ({ res }) => sendJson(res, 200, {}),
      });
      g.route({ method: 'GET', path: '/ask', auth: 'none', handler: ({ res }) => sendJson(res, 200, {}) });
    });
  }

  it('answers a preflight from an allowed origin with what it may send, refuses other origins, and 404s unknown paths', async () => {
    const base = await serveGroup();
    const preflight = await fetch(`${base}/api/ask`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(Object.fromEntries([...preflight.headers].filter(([k]) => k.startsWith('access-control-') || k === 'allow' || k === 'vary'))).toEqual({
      allow: 'GET, HEAD, POST, OPTIONS',
      'access-control-allow-origin': ORIGIN,
      'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS',
      'access-control-allow-headers': 'Authorization, Content-Type',
      'access-control-expose-headers': 'Retry-After',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    const stranger = await fetch(`${base}/api/ask`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    expect(await errorOf(stranger)).toMatchObject({ status: 403, code: 'origin_not_allowed' });
    const unknown = await fetch(`${base}/api/nope`, { method: 'OPTIONS', headers: { origin: ORIGIN } });
    expect([unknown.status, unknown.headers.get('access-control-allow-origin')]).toEqual([404, ORIGIN]);
  });

  it("marks every answer for an allowed origin, errors included (the layer's 401, 404, 405, 413), so a browser can read them", async () => {
    const base = await serveGroup();
    const headers = { origin: ORIGIN };
    const answers = [
      await fetch(`${base}/api/ask`, { headers }),
      await fetch(`${base}/api/ask`, { method: 'POST', headers, body: '{}' }),
      await fetch(`${base}/api/nope`, { headers }),
      await fetch(`${base}/api/ask`, { method: 'PUT', headers }),
      await fetch(`${base}/api/ask`, { method: 'POST', headers: { ...headers, authorization: 'Bearer sesame' }, body: 'x'.repeat(200) }),
    ];
    expect(answers.map((r) => [r.status, r.headers.get('access-control-allow-origin'), r.headers.get('vary')])).toEqual([
      [200, ORIGIN, 'Origin'],
      [401, ORIGIN, 'Origin'],
      [404, ORIGIN, 'Origin'],
      [405, ORIGIN, 'Origin'],
      [413, ORIGIN, 'Origin'],
    ]);
    const stranger = await fetch(`${base}/api/ask`, { headers: { origin: 'https://evil.example' } });
    expect([stranger.status, stranger.headers.get('access-control-allow-origin')]).toEqual([200, null]);
  });
});

describe('route group availability', () => {
  it("answers 503 for the group's routes while it is unavailable, except a route that is always available", async () => {
    let available = false;
    const base = await serve((h) => {
      const g = h.group({ prefix: '/g', available: () => available });
      g.route({ method: 'GET', path: '/work', auth: 'none', handler: ({ res }) => sendJson(res, 200, {}) });
      g.route({ method: 'GET', path: '/doc', auth: 'none', available: 'always', handler: ({ res }) => sendJson(res, 200, {}) });
    });
    expect(await errorOf(await fetch(`${base}/g/work`))).toMatchObject({ status: 503, code: 'unavailable' });
    expect((await fetch(`${base}/g/doc`)).status).toBe(200);
    available = true;
    expect((await fetch(`${base}/g/work`)).status).toBe(200);
  });
});

describe('SSE through the layer', () => {
  it('leaves a streamed response to its one writer, and only ends it when the handler fails mid-stream', async () => {
    const base = await serve((h) =>
      h.route({
        method: 'GET',
        path: '/stream',
        auth: 'none',
        handler: async ({ res }) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('event: delta\ndata: {"text":"a"}\n\n');
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('the model went away');
        },
      }),
    );
    const text = await new Promise<string>((resolve, reject) => {
      request(`${base}/stream`, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      })
        .on('error', reject)
        .end();
    });
    // No error body pasted into the stream: the stream's writer reports errors as events.
    expect(text).toBe('event: delta\ndata: {"text":"a"}\n\n');
  });
});

describe('HttpServer middleware', () => {
  it('answers a synchronous throw from a plain middleware or handler with the one error body, and runs the chain in order', async () => {
    const seen: string[] = [];
    const base = await serve((h) => {
      h.route({
        method: 'GET',
        path: '/sync-throw',
        auth: 'none',
        // A plain (not async) middleware that only hands on, then one that throws before any await.
        use: [
          (_ctx, next) => (seen.push('first'), next()),
          () => {
            seen.push('second');
            throw new HttpError(409, 'conflict', 'thrown synchronously');
          },
        ],
        handler: ({ res }) => sendJson(res, 200, { reached: true }),
      });
      h.route({
        method: 'GET',
        path: '/sync-handler',
        auth: 'none',
        handler: () => {
          throw new HttpError(418, 'teapot', 'the handler threw');
        },
      });
    });
    expect(await errorOf(await fetch(`${base}/sync-throw`))).toEqual({ status: 409, code: 'conflict', message: 'thrown synchronously' });
    expect(seen).toEqual(['first', 'second']);
    expect(await errorOf(await fetch(`${base}/sync-handler`))).toEqual({ status: 418, code: 'teapot', message: 'the handler threw' });
  });
});
