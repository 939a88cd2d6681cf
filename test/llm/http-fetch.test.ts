import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LlmClient, type ChatEvent } from '../../src/llm/client.js';
import { LlmError } from '../../src/kernel/errors.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { FakeOpenAI } from '../fakes/openai-server.js';

/** The model client's own fetch over node:http (src/llm/http-fetch.ts), through the real SDK. */
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());

const client = (baseURL = fake.url) =>
  new LlmClient({ baseURL, apiKey: 'k', connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 1, backoffBaseMs: 10, log: silentLogger() });

async function answer(c: LlmClient): Promise<{ text: string; done?: Extract<ChatEvent, { type: 'done' }> }> {
  let text = '';
  let done: Extract<ChatEvent, { type: 'done' }> | undefined;
  for await (const e of c.stream({ model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })) {
    if (e.type === 'delta') text += e.text;
    else done = e;
  }
  return { text, done };
}

describe('the model fetch', () => {
  it('sends the key and the JSON body, and answers one after another over one kept-alive connection', async () => {
    const c = client();
    const before = fake.connections;
    fake.script('First answer.', 'Second answer.', 'Third answer.');
    expect((await answer(c)).text).toBe('First answer.');
    expect((await answer(c)).text).toBe('Second answer.');
    expect((await answer(c)).text).toBe('Third answer.');
    expect(fake.connections - before).toBe(1);
    const last = fake.chatRequests.at(-1)!;
    expect(last.headers.authorization).toBe('Bearer k');
    expect(last.body).toMatchObject({ model: 'fake-model', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  });

  it('reads a stream a gateway compressed (gzip, br), event by event, with its usage', async () => {
    for (const encoding of ['gzip', 'br'] as const) {
      fake.script({ chunks: ['Compressed ', 'but ', 'whole.'], encoding, usage: { prompt_tokens: 7, completion_tokens: 3 } });
      const { text, done } = await answer(client());
      expect(text).toBe('Compressed but whole.');
      expect(done?.usage).toEqual({ promptTokens: 7, completionTokens: 3 });
    }
  });

  it("keeps a compressed error response's meaning: a 429 is retried, a 400 refused with the server's message", async () => {
    fake.script({ status: 429, retryAfterSeconds: 0, encoding: 'gzip' }, 'After the limit.');
    expect((await answer(client())).text).toBe('After the limit.');
    fake.script({ status: 400, encoding: 'br' });
    const err = await answer(client()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect(err).toMatchObject({ code: 'llm_rejected', status: 400 });
    expect((err as Error).message).toContain('scripted 400');
  });

  it('reads a whole JSON body (the model list)', async () => {
    expect(await client().listModels()).toEqual(['fake-model']);
  });

  it('reports a server that refuses the connection as a retryable network error', async () => {
    const port = await closedPort();
    const err = await answer(client(`http://127.0.0.1:${port}/v1`)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect(err).toMatchObject({ code: 'llm_network', retryable: true });
  });
});

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
