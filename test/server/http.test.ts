import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/kernel/logger.js';
import { HttpError, HttpServer, readBody, sendJson } from '../../src/server/http.js';

/** The one HTTP server: a 4xx thrown by a handler (or readBody) is answered as that 4xx, not a 500. */
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

describe('HttpServer errors', () => {
  it("answers a body over readBody's limit 413 payload_too_large and closes the connection", async () => {
    const base = await serve((h) => h.route('POST', '/echo', async (req, res) => sendJson(res, 200, { bytes: (await readBody(req, 1_000)).length })));
    const ok = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(1_000) });
    expect([ok.status, await ok.json()]).toEqual([200, { bytes: 1_000 }]);
    for (const size of [1_001, 50_000, 2_000_000]) {
      const res = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(size) });
      expect(res.status, String(size)).toBe(413);
      expect(res.headers.get('connection')).toBe('close');
      expect(await res.json()).toEqual({ error: 'payload_too_large', message: 'the request body is larger than 1000 bytes' });
    }
  });

  it('answers an HttpError with its status, code and headers, and any error with a 4xx status with that status', async () => {
    const base = await serve((h) => {
      h.route('GET', '/teapot', () => {
        throw new HttpError(418, 'teapot', 'short and stout', { 'retry-after': '5' });
      });
      h.route('GET', '/other', () => {
        throw Object.assign(new Error('no such thing here'), { status: 422 });
      });
      h.route('GET', '/bug', () => {
        throw new Error('secret detail');
      });
      h.route('GET', '/upstream', () => {
        throw Object.assign(new Error('upstream down'), { status: 503 });
      });
    });
    const teapot = await fetch(`${base}/teapot`);
    expect([teapot.status, teapot.headers.get('retry-after'), await teapot.json()]).toEqual([418, '5', { error: 'teapot', message: 'short and stout' }]);
    const other = await fetch(`${base}/other`);
    expect([other.status, await other.json()]).toEqual([422, { error: 'unprocessable_entity', message: 'no such thing here' }]);
    // Anything else stays a 500 that tells the client nothing.
    for (const path of ['/bug', '/upstream']) {
      const res = await fetch(`${base}${path}`);
      expect([res.status, await res.json()]).toEqual([500, { error: 'internal_error' }]);
    }
  });
});
