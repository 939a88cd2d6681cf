import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LlmClient, type ChatEvent } from '../../src/llm/client.js';
import { LlmError } from '../../src/kernel/errors.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { FakeOpenAI } from '../fakes/openai-server.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

function client(o: Partial<ConstructorParameters<typeof LlmClient>[0]> = {}) {
  return new LlmClient({
    baseURL: fake.url,
    apiKey: 'test-key',
    connectTimeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    maxRetries: 2,
    backoffBaseMs: 10,
    log: silentLogger(),
    ...o,
  });
}

async function collect(it: AsyncIterable<ChatEvent>): Promise<{ text: string; events: ChatEvent[] }> {
  const events: ChatEvent[] = [];
  for await (const e of it) events.push(e);
  return { text: events.flatMap((e) => (e.type === 'delta' ? [e.text] : [])).join(''), events };
}

const ask = (extra: object = {}) => ({ model: 'model-a', messages: [{ role: 'user' as const, content: 'hi' }], ...extra });

describe('LlmClient', () => {
  it('streams deltas and reports usage from the final chunk', async () => {
    fake.script({ text: 'Hello there, friend.', usage: { prompt_tokens: 11, completion_tokens: 5 } });
    const { text, events } = await collect(client().stream(ask()));
    expect(text).toBe('Hello there, friend.');
    expect(events.filter((e) => e.type === 'delta').length).toBeGreaterThan(1);
    const done = events.at(-1)!;
    expect(done).toMatchObject({ type: 'done', model: 'model-a', usage: { promptTokens: 11, completionTokens: 5 } });
    const body = fake.chatRequests[0]!.body;
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(fake.chatRequests[0]!.headers.authorization).toBe('Bearer test-key');
  });

  it('retries a 429 after its retry-after, then answers', async () => {
    fake.script({ status: 429, retryAfterSeconds: 0.2 }, 'after the wait');
    const { text } = await collect(client().stream(ask()));
    expect(text).toBe('after the wait');
    const [first, second] = fake.chatRequests;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(180);
  });

  it('retries 500s with backoff, and gives up after maxRetries', async () => {
    fake.script({ status: 500 }, { status: 503 }, 'recovered');
    expect((await collect(client().stream(ask()))).text).toBe('recovered');
    expect(fake.chatRequests).toHaveLength(3);

    fake.requests.length = 0;
    fake.script({ status: 500 }, { status: 500 }, { status: 500 });
    const err = await collect(client().stream(ask())).catch((e) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect(err.code).toBe('llm_server_error');
    expect(fake.chatRequests).toHaveLength(3);
  });

  it('does not retry a request the service refuses (400)', async () => {
    fake.script({ status: 400 });
    const err = await collect(client().stream(ask())).catch((e) => e);
    expect(err.code).toBe('llm_rejected');
    expect(fake.chatRequests).toHaveLength(1);
  });

  it("calls only its one model: falling back is ProviderRouter's (test/routing/providers.test.ts), the one loop", async () => {
    fake.script({ status: 500, model: 'model-a' }, { status: 500, model: 'model-a' }, { text: 'from b', model: 'model-b' });
    const err = await collect(client({ maxRetries: 1 }).stream(ask({ fallbackModels: ['model-b'] }))).catch((e) => e);
    expect(err).toMatchObject({ code: 'llm_server_error', status: 500 });
    expect(fake.chatRequests.map((r) => r.body.model)).toEqual(['model-a', 'model-a']);
    fake.script({ text: 'drain', model: 'model-b' });
    await collect(client().stream(ask({ model: 'model-b' })));
  });

  it('times out a model that never starts answering (connect timeout), then retries', async () => {
    fake.script({ hang: true }, 'second try');
    const { text } = await collect(client({ connectTimeoutMs: 300 }).stream(ask()));
    expect(text).toBe('second try');
  });

  it('cuts a stream that goes idle, but never a long stream that keeps flowing', async () => {
    // 30 chunks 50 ms apart: 1.5 s in total, longer than the 300 ms idle timeout.
    fake.script({ chunks: Array.from({ length: 30 }, (_, i) => `${i} `), chunkDelayMs: 50 });
    const long = await collect(client({ idleTimeoutMs: 300, maxRetries: 0 }).stream(ask()));
    expect(long.text.split(' ').filter(Boolean)).toHaveLength(30);

    const before = fake.chatRequests.length;
    fake.script({ chunks: ['a ', 'b ', 'c '], chunkDelayMs: 800 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of client({ idleTimeoutMs: 300, maxRetries: 2 }).stream(ask())) if (e.type === 'delta') seen.push(e.text);
    })().catch((e) => e);
    expect(err.code).toBe('llm_timeout');
    // Text had already arrived: no retry (it would repeat the text).
    expect(seen).toEqual(['a ']);
    expect(fake.chatRequests.length - before).toBe(1);
  });

  it('reports a stream cut mid-way as an error after the partial text, without retrying', async () => {
    fake.script({ text: 'one two three four five six', cutAfterChunks: 3 });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of client().stream(ask())) if (e.type === 'delta') seen.push(e.text);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect(seen.join('')).toBe('one two three ');
    expect(fake.chatRequests).toHaveLength(1);
  });

  it('stops when the caller aborts, and closes the connection', async () => {
    fake.script({ chunks: Array.from({ length: 100 }, () => 'x '), chunkDelayMs: 20 });
    const controller = new AbortController();
    const before = fake.closedByClient;
    const err = await (async () => {
      let n = 0;
      for await (const e of client().stream(ask({ signal: controller.signal }))) if (e.type === 'delta' && ++n === 3) controller.abort();
    })().catch((e) => e);
    expect(err.code).toBe('llm_aborted');
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.closedByClient).toBe(before + 1);
    expect(fake.chatRequests).toHaveLength(1);
  });
});
