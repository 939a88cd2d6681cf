import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startParley, type Parley } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/env.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { hashApiKey } from '../../../src/platforms/http-api/keys.js';
import { FakeOpenAI } from '../../fakes/openai-server.js';
import { REDIS_URL } from '../../helpers/redis.js';

/** Everything goes through real HTTP: Parley's server in front, the fake OpenAI-compatible model behind. */

const KEYS = { main: 'pk_main_0123456789abcdef', other: 'pk_other_0123456789abcdef', limited: 'pk_limited_0123456789', budget: 'pk_budget_0123456789' };
const API_KEYS = [
  `main:${hashApiKey(KEYS.main)}`,
  `other:${hashApiKey(KEYS.other)}`,
  `limited:${hashApiKey(KEYS.limited)}:2`,
  `budget:${hashApiKey(KEYS.budget)}:0:10`,
].join(',');
const ORIGIN = 'https://help.example.com';
const CONVERSATION_ID = /^c_[A-Za-z0-9_-]{22}$/;

const dir = mkdtempSync(join(tmpdir(), 'parley-api-'));
const configFile = join(dir, 'parley.config.yaml');
writeFileSync(configFile, ['profiles:', '  default: {}', '  billing:', '    systemPrompt: You are the billing assistant.', ''].join('\n'));

const log = silentLogger();
let fake: FakeOpenAI;
let parley: Parley;

const env = (extra: Record<string, string> = {}) =>
  loadConfig({
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'k',
    OPENAI_MODEL: 'fake-model',
    LLM_MAX_RETRIES: '0',
    STORE_URL: 'memory://',
    PORT: '0',
    API_KEYS,
    API_CORS_ORIGINS: ORIGIN,
    API_MAX_QUESTION_CHARS: '200',
    ...extra,
  });

beforeAll(async () => {
  fake = await FakeOpenAI.start();
  parley = await startParley(env({ PARLEY_CONFIG: configFile }), { log, watch: false });
});
afterAll(async () => {
  await parley?.stop();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.requests.length = 0;
});

interface Call {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function call(
  p: Parley,
  method: string,
  path: string,
  o: { key?: string; xApiKey?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Call> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (o.xApiKey) headers['x-api-key'] = o.xApiKey;
  if (o.body !== undefined || o.rawBody !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${p.port}${path}`, {
    method,
    headers,
    body: o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const ask = (body: unknown, key = KEYS.main) => call(parley, 'POST', '/api/v1/ask', { key, body });

/** Server-Sent Events of a finished response, in order. */
function events(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter((block) => block.includes('event: '))
    .map((block) => {
      const event = /^event: (.+)$/m.exec(block)![1]!;
      const data = /^data: (.+)$/m.exec(block)![1]!;
      return { event, data: JSON.parse(data) };
    });
}

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('POST /api/v1/ask', () => {
  it('answers as one JSON body, and a follow-up with the conversation id carries the earlier turns to the model', async () => {
    fake.script({ text: 'Refunds take **5 days**.', usage: { prompt_tokens: 31, completion_tokens: 7 } });
    const first = await ask({ question: 'How long do refunds take?' });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({
      text: 'Refunds take **5 days**.',
      source: 'model',
      citations: [],
      usage: { promptTokens: 31, completionTokens: 7 },
      model: 'fake-model',
      profile: 'default',
    });
    expect(first.json.conversationId).toMatch(CONVERSATION_ID);

    fake.script('Yes, for digital goods too.');
    // The other header form, same key.
    const second = await call(parley, 'POST', '/api/v1/ask', {
      xApiKey: KEYS.main,
      body: { question: 'Also for digital goods?', conversationId: first.json.conversationId },
    });
    expect(second.status).toBe(200);
    expect(second.json.conversationId).toBe(first.json.conversationId);
    const sent = fake.chatRequests[1]!.body.messages.map((m: { role: string; content: string }) => [m.role, m.content]);
    expect(sent.slice(1)).toEqual([
      ['user', 'How long do refunds take?'],
      ['assistant', 'Refunds take **5 days**.'],
      ['user', 'Also for digital goods?'],
    ]);

    // Conversations belong to their key: the same id under another key starts empty.
    await ask({ question: 'Hello?', conversationId: first.json.conversationId }, KEYS.other);
    expect(fake.chatRequests[2]!.body.messages).toHaveLength(2);
  });

  it('streams Server-Sent Events: start, deltas that add up to the answer, then done with usage and source', async () => {
    fake.script({ chunks: ['Reset it ', 'under ', 'Settings ', '→ ', 'Security.'], chunkDelayMs: 150, usage: { prompt_tokens: 12, completion_tokens: 6 } });
    const res = await fetch(`http://127.0.0.1:${parley.port}/api/v1/ask`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.main}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ question: 'How do I reset my password?' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    // Read as it arrives: the first delta must come while the model is still writing.
    let text = '';
    let modelStillWritingAtFirstDelta: boolean | undefined;
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      if (modelStillWritingAtFirstDelta === undefined && text.includes('event: delta')) modelStillWritingAtFirstDelta = fake.openStreams > 0;
    }
    expect(modelStillWritingAtFirstDelta).toBe(true);
    const evs = events(text);
    expect(evs[0]!.event).toBe('start');
    expect(evs[0]!.data.conversationId).toMatch(CONVERSATION_ID);
    const deltas = evs.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.map((e) => e.data.text).join('')).toBe('Reset it under Settings → Security.');
    const done = evs[evs.length - 1]!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({
      conversationId: evs[0]!.data.conversationId,
      text: 'Reset it under Settings → Security.',
      source: 'model',
      citations: [],
      usage: { promptTokens: 12, completionTokens: 6 },
    });
  });

  it('answers with a requested profile (no routing rule needed), and reports a failing model as an error, never a stack trace', async () => {
    fake.script('Your invoice is in Billing.');
    const billed = await ask({ question: 'Where is my invoice?', profile: 'billing' });
    expect(billed.json.profile).toBe('billing');
    expect(fake.chatRequests[0]!.body.messages[0].content).toContain('You are the billing assistant.');

    fake.script({ status: 400 });
    const failed = await ask({ question: 'Anything?' });
    expect(failed.status).toBe(502);
    expect(failed.json.error.code).toBe('llm_rejected');
    expect(failed.text).not.toMatch(/\n\s+at /);
  });
});

describe('answers without the model', () => {
  it('carries the knowledge base citations, the source and zero usage', async () => {
    // No model configured: Parley quotes the best passage of the knowledge base, with its source.
    const p = await startParley(
      loadConfig({ OPENAI_BASE_URL: fake.url, STORE_URL: 'memory://', PORT: '0', API_KEYS, KNOWLEDGE_DIR: join(process.cwd(), 'examples/knowledge') }),
      { log, watch: false },
    );
    try {
      const res = await call(p, 'POST', '/api/v1/ask', { key: KEYS.main, body: { question: 'How do I verify webhook signatures?' } });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ source: 'knowledge', usage: { promptTokens: 0, completionTokens: 0 }, model: null });
      expect(res.json.citations.length).toBeGreaterThan(0);
      expect(res.json.citations[0].location).toMatch(/webhook/i);
      expect(fake.chatRequests).toHaveLength(0);
    } finally {
      await p.stop();
    }
  });
});

describe('validation', () => {
  it('answers 4xx JSON naming the field for a missing or oversized question, a bad conversation id, an unknown profile or field', async () => {
    const cases: [unknown, number, string, string][] = [
      [{}, 400, 'invalid_request', 'question'],
      [{ question: '   ' }, 400, 'invalid_request', 'question'],
      [{ question: 'x'.repeat(201) }, 400, 'invalid_request', 'question'],
      [{ question: 'hi', conversationId: 'not-an-id' }, 400, 'invalid_request', 'conversationId'],
      [{ question: 'hi', profile: 'nonexistent' }, 422, 'unknown_profile', 'profile'],
      [{ question: 'hi', colour: 'blue' }, 400, 'invalid_request', 'colour'],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await ask(body);
      expect({ body, status: res.status, code: res.json?.error?.code, field: res.json?.error?.field }).toEqual({ body, status, code, field });
      expect(res.json.error.message).toContain(field);
    }
    const notJson = await call(parley, 'POST', '/api/v1/ask', { key: KEYS.main, rawBody: '{"question": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.code).toBe('invalid_json');
    const badTask = await call(parley, 'GET', '/api/v1/tasks/nope', { key: KEYS.main });
    expect([badTask.status, badTask.json.error.field]).toEqual([400, 'id']);
    // A malformed escape is the client's mistake too: a 400 with a key, a 401 without, never a 500.
    const malformed = await call(parley, 'GET', '/api/v1/tasks/%ZZ', { key: KEYS.main });
    expect([malformed.status, malformed.json.error.field]).toEqual([400, 'id']);
    expect((await call(parley, 'GET', '/api/v1/tasks/%ZZ')).status).toBe(401);
    // A body far over the limit is refused while it is read, and the connection closed.
    const huge = await call(parley, 'POST', '/api/v1/ask', { key: KEYS.main, rawBody: JSON.stringify({ question: 'x'.repeat(50_000) }) });
    expect([huge.status, huge.headers.get('connection'), huge.json.error.code]).toEqual([413, 'close', 'payload_too_large']);
    expect(fake.chatRequests).toHaveLength(0);
  });
});

describe('API keys', () => {
  it('answers 401 for a missing or wrong key, in either header', async () => {
    for (const o of [{}, { key: 'pk_wrong' }, { xApiKey: 'pk_wrong' }, { key: hashApiKey(KEYS.main) }]) {
      const res = await call(parley, 'POST', '/api/v1/ask', { ...o, body: { question: 'hi' } });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await call(parley, 'GET', '/api/v1/tasks/t_0000000000000000000000')).status).toBe(401);
    expect(fake.chatRequests).toHaveLength(0);
  });

  it("answers 429 with Retry-After once a key's rate limit is reached", async () => {
    expect((await ask({ question: 'one' }, KEYS.limited)).status).toBe(200);
    expect((await ask({ question: 'two' }, KEYS.limited)).status).toBe(200);
    const refused = await ask({ question: 'three' }, KEYS.limited);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('rate_limited');
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(fake.chatRequests).toHaveLength(2);
    // Other keys are not affected.
    expect((await ask({ question: 'four' })).status).toBe(200);
  });

  it("answers 429 with Retry-After once a key's daily token budget is used", async () => {
    fake.script({ text: 'A long answer.', usage: { prompt_tokens: 8, completion_tokens: 4 } });
    expect((await ask({ question: 'first' }, KEYS.budget)).status).toBe(200);
    const refused = await ask({ question: 'second' }, KEYS.budget);
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ code: 'budget_exhausted' });
    expect(refused.json.error.message).toContain('12 of its 10 tokens');
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(86_400);
    expect(fake.chatRequests).toHaveLength(1);
  });
});

describe('CORS', () => {
  it('answers a preflight from an allowed origin, refuses others, and marks responses for the allowed one', async () => {
    const preflight = await call(parley, 'OPTIONS', '/api/v1/ask', {
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type/);

    const stranger = await call(parley, 'OPTIONS', '/api/v1/ask', { headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'POST' } });
    expect(stranger.status).toBe(403);
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();

    const res = await call(parley, 'POST', '/api/v1/ask', { key: KEYS.main, body: { question: 'hi' }, headers: { origin: ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const refused = await call(parley, 'POST', '/api/v1/ask', { body: { question: 'hi' }, headers: { origin: ORIGIN } });
    // Errors carry the header too, so a browser can read them.
    expect([refused.status, refused.headers.get('access-control-allow-origin')]).toEqual([401, ORIGIN]);
  });
});

describe('GET /api/v1/openapi.json', () => {
  it('serves an OpenAPI 3.1 document generated from the request schemas, with every $ref resolving', async () => {
    const res = await call(parley, 'GET', '/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/ask',
      '/api/v1/conversations/{id}',
      '/api/v1/openapi.json',
      '/api/v1/tasks',
      '/api/v1/tasks/{id}',
      '/api/v1/users/{user}',
    ]);
    // Erasure requests (issue 18): both deletions answer with what they removed.
    for (const path of ['/api/v1/users/{user}', '/api/v1/conversations/{id}']) {
      expect(doc.paths[path].delete.responses['200'].content['application/json'].schema.$ref).toBe('#/components/schemas/Deletion');
    }
    expect(doc.components.schemas.Deletion.properties.deleted.required).toEqual(['conversations', 'records', 'questionTexts', 'reviewItems', 'usageRows']);
    expect(doc.paths['/api/v1/ask'].post.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/AskRequest');
    const askSchema = doc.components.schemas.AskRequest;
    expect(askSchema.required).toEqual(['question']);
    // The configured limit (API_MAX_QUESTION_CHARS) is the one the validator applies.
    expect(askSchema.properties.question.maxLength).toBe(200);
    expect(askSchema.additionalProperties).toBe(false);
    for (const name of ['Answer', 'Task', 'TaskAccepted', 'Error', 'Citation', 'Usage']) expect(doc.components.schemas[name]).toBeTypeOf('object');
    expect(doc.components.schemas.Task.properties.status.$ref).toBe('#/components/schemas/TaskStatus');
    // Parameters come from the routes' params schemas, the error responses from what each route declares.
    expect(doc.paths['/api/v1/tasks/{id}'].get.parameters).toEqual([
      expect.objectContaining({ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ pattern: '^t_[A-Za-z0-9_-]{22}$' }) }),
    ]);
    expect(doc.paths['/api/v1/users/{user}'].delete.parameters[0].schema.pattern).toBe('^[A-Za-z0-9._@-]{1,128}$');
    expect(Object.keys(doc.paths['/api/v1/ask'].post.responses)).toEqual(['200', '400', '401', '413', '422', '429', '502', '503']);
    expect(doc.paths['/api/v1/ask'].post.security).toEqual([{ bearerKey: [] }, { headerKey: [] }]);
    expect(doc.paths['/api/v1/openapi.json'].get.security).toEqual([]);
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
    expect(doc.components.schemas.TaskStatus.enum).toEqual(['pending', 'running', 'completed', 'failed']);

    const refs = [...res.text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) {
      const target = ref
        .replace(/^#\//, '')
        .split('/')
        .reduce((node: any, part) => node?.[part], doc);
      expect(target, ref).toBeTypeOf('object');
    }
  });

  it('answers unknown endpoints and methods with JSON errors', async () => {
    const missing = await call(parley, 'GET', '/api/v1/nope', { key: KEYS.main });
    expect([missing.status, missing.json.error.code]).toEqual([404, 'not_found']);
    const wrongMethod = await call(parley, 'GET', '/api/v1/ask', { key: KEYS.main });
    expect([wrongMethod.status, wrongMethod.json.error.code, wrongMethod.headers.get('allow')]).toEqual([405, 'method_not_allowed', 'POST']);
  });
});

describe('tasks', () => {
  it('reports pending → running → completed, keeps the answer across a restart on sqlite, and reports a failure with its reason', async () => {
    const store = `sqlite://${join(dir, 'tasks.sqlite')}`;
    const config = env({ STORE_URL: store });
    const first = await startParley(config, { log, watch: false });
    let id: string;
    try {
      // The model takes a while to start, so the task is seen running.
      fake.script({ text: 'Exported as CSV.', firstTokenDelayMs: 1000, usage: { prompt_tokens: 9, completion_tokens: 3 } });
      const submitted = await call(first, 'POST', '/api/v1/tasks', { key: KEYS.main, body: { question: 'How do I export data?' } });
      expect(submitted.status).toBe(202);
      expect(submitted.json).toMatchObject({ status: 'pending' });
      expect(submitted.json.conversationId).toMatch(CONVERSATION_ID);
      id = submitted.json.id;
      expect(submitted.headers.get('location')).toBe(`/api/v1/tasks/${id}`);

      await waitFor(
        async () => ((await call(first, 'GET', `/api/v1/tasks/${id}`, { key: KEYS.main })).json.status === 'running' ? true : undefined),
        'the task to run',
      );
      // Another key cannot see it.
      expect((await call(first, 'GET', `/api/v1/tasks/${id}`, { key: KEYS.other })).status).toBe(404);
    } finally {
      // A graceful stop finishes the turn in progress before it closes the store.
      await first.stop();
    }

    const second = await startParley(config, { log, watch: false });
    try {
      const after = await call(second, 'GET', `/api/v1/tasks/${id}`, { key: KEYS.main });
      expect(after.status).toBe(200);
      expect(after.json).toMatchObject({
        id,
        status: 'completed',
        answer: { text: 'Exported as CSV.', source: 'model', usage: { promptTokens: 9, completionTokens: 3 } },
      });

      fake.script({ status: 400 });
      const failing = await call(second, 'POST', '/api/v1/tasks', { key: KEYS.main, body: { question: 'Will this fail?' } });
      const failed = await waitFor(async () => {
        const t = (await call(second, 'GET', `/api/v1/tasks/${failing.json.id}`, { key: KEYS.main })).json;
        return t.status === 'failed' ? t : undefined;
      }, 'the task to fail');
      expect(failed.error.code).toBe('llm_rejected');
      expect(failed.error.message).toMatch(/could not get an answer/);
      expect(failed.answer).toBeUndefined();
    } finally {
      await second.stop();
    }
  });

  it('are visible from every instance sharing a Redis store', async () => {
    // Two instances, one Redis; short task TTL so nothing lingers in the shared Redis.
    const config = env({ STORE_URL: REDIS_URL, API_TASK_TTL_HOURS: '0.01' });
    const [a, b] = await Promise.all([startParley(config, { log, watch: false }), startParley(config, { log, watch: false })]);
    try {
      fake.script('Answered on instance A.');
      const submitted = await call(a, 'POST', '/api/v1/tasks', { key: KEYS.main, body: { question: 'Which instance?' } });
      const done = await waitFor(async () => {
        const t = (await call(b, 'GET', `/api/v1/tasks/${submitted.json.id}`, { key: KEYS.main })).json;
        return t.status === 'completed' ? t : undefined;
      }, 'instance B to see the completed task');
      expect(done.answer.text).toBe('Answered on instance A.');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
