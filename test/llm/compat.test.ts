import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { UsageLedger } from '../../src/guardrails/ledger.js';
import { resetCalibration } from '../../src/llm/tokens.js';
import { LlmClient, type ChatEvent } from '../../src/llm/client.js';
import { hashApiKey } from '../../src/platforms/http-api/keys.js';
import { FakeModelServer, SERVER_KINDS } from '../fakes/model-servers.js';

/**
 * The same streaming, usage, cut-off, killed-stream and context-overflow cases against each real
 * server's wire format (test/fakes/model-servers.ts), through Parley's HTTP API end to end.
 */
const KEY = 'pk_compat_0123456789abcdef';
const LONG_ANSWER = Array.from({ length: 90 }, (_, i) => `Step ${i + 1} of the setup checks the webhook signature again.`).join(' ');

interface Sse {
  events: { event: string; data: any }[];
  done?: any;
}

async function ask(p: Parley, question: string, conversationId?: string): Promise<Sse> {
  const res = await fetch(`http://127.0.0.1:${p.port}/api/v1/ask`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, accept: 'text/event-stream', 'content-type': 'application/json' },
    body: JSON.stringify({ question, ...(conversationId && { conversationId }) }),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((b) => b.startsWith('event:'))
    .map((b) => ({ event: /^event: (.*)$/m.exec(b)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(b)![1]!) }));
  return { events, done: events.find((e) => e.event === 'done')?.data };
}

describe.each(SERVER_KINDS)('a %s server', (kind) => {
  let server: FakeModelServer;
  let parley: Parley;
  beforeAll(async () => {
    server = await FakeModelServer.start(kind);
    parley = await startParley(
      loadConfig({
        ...server.env(),
        LLM_MAX_RETRIES: '0',
        OPENAI_CONTEXT_WINDOW: '2000',
        OPENAI_MAX_OUTPUT_TOKENS: '200',
        STORE_URL: 'memory://',
        PORT: '0',
        API_KEYS: `compat:${hashApiKey(KEY)}`,
        API_MAX_QUESTION_CHARS: '20000',
      }),
      { log: silentLogger(), watch: false },
    );
  });
  afterAll(async () => {
    await parley?.stop();
    await server?.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    server.tokenRatio = 1;
    server.contextSize = 1_000_000;
    resetCalibration();
  });

  it('streams the answer (keep-alive comments, a null or empty first delta) and reports the server usage', async () => {
    server.script({ text: ' Verify the signature with the signing secret.', keepAlives: 3 });
    const r = await ask(parley, 'How do I verify a webhook?');
    // The first token's leading space is not part of the answer.
    expect(r.done).toMatchObject({
      text: 'Verify the signature with the signing secret.',
      source: 'model',
      finishReason: 'stop',
      incomplete: false,
      model: 'test-model',
    });
    expect(r.done.usage.promptTokens).toBe(server.promptTokens(server.requests[0]));
    expect(r.done.usage.estimated).toBeUndefined();
  });

  it('estimates usage when the server sends none', async () => {
    server.script({ text: 'An answer without any usage figures at all.', noUsage: true });
    const r = await ask(parley, 'Anything?');
    expect(r.done.usage).toMatchObject({ estimated: true });
    expect(r.done.usage.promptTokens).toBeGreaterThan(0);
    expect(r.done.usage.completionTokens).toBeGreaterThan(0);
  });

  it('shows an answer cut by max_tokens as cut: finishReason length, incomplete, with a note', async () => {
    server.script({ text: 'The first part of a long answer', finishReason: 'length' });
    const r = await ask(parley, 'Explain everything');
    expect(r.done).toMatchObject({ finishReason: 'length', incomplete: true, source: 'model' });
    expect(r.done.text).toMatch(/^The first part of a long answer\n\n_⚠️ The answer was cut at the length limit\. Ask me to continue/);
  });

  it('books estimated, non-zero usage in the metrics and the ledger when the server dies mid-stream', async () => {
    const before = await tokensMetric(parley, 'out');
    server.script({ text: 'one two three four five six seven eight', cutAfterChunks: 4 });
    const r = await ask(parley, 'Tell me more');
    expect(r.done).toMatchObject({ source: 'model', incomplete: true, usage: { estimated: true } });
    expect(r.done.usage.completionTokens).toBeGreaterThan(0);
    expect(await tokensMetric(parley, 'out')).toBeGreaterThan(before);
    const day = new Date().toISOString().slice(0, 10);
    const agg = await new UsageLedger(parley.store).aggregate(day, 'default', 'test-model');
    expect(agg.completion).toBeGreaterThan(0);
    const rows = await new UsageLedger(parley.store).rowsOf('api:compat', 1);
    expect(rows.at(-1)).toMatchObject({ estimated: true, outcome: 'llm_network' });
    expect(rows.at(-1)!.completionTokens).toBeGreaterThan(0);
  });

  it('never shows a context-length 400 when the server counts 2.4x more tokens than o200k: trims, or says the question is too long', async () => {
    server.tokenRatio = 2.4;
    server.contextSize = 2000;
    server.script(LONG_ANSWER);
    const first = await ask(parley, 'How do I set up webhooks?');
    const conversationId = first.events[0]!.data.conversationId;
    expect(first.done.source).toBe('model');

    // Forget what the server taught us: the next prompt (with the long answer as history) overflows.
    resetCalibration();
    server.requests.length = 0;
    server.script('Use the signing secret from the dashboard.');
    const second = await ask(parley, 'And which secret do I use?', conversationId);
    expect(second.done).toMatchObject({ source: 'model', text: 'Use the signing secret from the dashboard.' });
    // Either trimmed before sending, or the server refused once and the question went alone.
    const last = server.requests.at(-1)!;
    expect(last.messages.map((m: any) => m.role)).toEqual(['system', 'user']);

    const huge = 'Please check this webhook payload field by field. '.repeat(75);
    const third = await ask(parley, huge);
    expect(third.events.some((e) => e.event === 'error')).toBe(false);
    // Ollama counts the prompt alone against its context: the question alone still fits there.
    if (kind === 'ollama') expect(third.done.source).toBe('model');
    else {
      expect(third.done).toMatchObject({ source: 'declined', citations: [] });
      expect(third.done.text).toMatch(/too long for the model \(about \d+ tokens; it accepts about \d+\)/);
    }
    expect(third.done.text).not.toMatch(/try again in a moment/);
  });
});

async function tokensMetric(p: Parley, direction: 'in' | 'out'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`parley_tokens_total{direction="${direction}",model="test-model"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe.each(SERVER_KINDS)('LlmClient against a %s server', (kind) => {
  let server: FakeModelServer;
  beforeAll(async () => {
    server = await FakeModelServer.start(kind);
  });
  afterAll(() => server.close());
  const client = (o: Partial<ConstructorParameters<typeof LlmClient>[0]> = {}) =>
    new LlmClient({ baseURL: server.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 2, backoffBaseMs: 5, log: silentLogger(), ...o });
  const drain = async (c: LlmClient, content = 'hi') => {
    const events: ChatEvent[] = [];
    for await (const e of c.stream({ model: 'test-model', messages: [{ role: 'user', content }], maxTokens: 100 })) events.push(e);
    return events;
  };

  it('recognises its context-length error (never retried), with the numbers it gives', async () => {
    server.contextSize = 50;
    server.requests.length = 0;
    const err = await drain(client(), 'word '.repeat(200)).catch((e) => e);
    server.contextSize = 1_000_000;
    expect(err).toMatchObject({ code: 'llm_context_overflow', retryable: false });
    expect(server.requests).toHaveLength(1);
    if (kind === 'ollama') expect(err.context).toEqual({ promptTokens: undefined, contextWindow: undefined });
    else expect(err.context).toEqual({ promptTokens: server.promptTokens(server.requests[0]), contextWindow: 50 });
  });

  it('waits for the first token past the idle gap while the server reads the prompt, within the first-token timeout', async () => {
    server.script({ text: 'read it all', keepAlives: 6, keepAliveEveryMs: 100 });
    const events = await drain(client({ idleTimeoutMs: 200, firstTokenTimeoutMs: 5_000, maxRetries: 0 }));
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' });
    server.script({ text: 'too slow', keepAlives: 10, keepAliveEveryMs: 100 });
    const err = await drain(client({ idleTimeoutMs: 5_000, firstTokenTimeoutMs: 300, maxRetries: 0 })).catch((e) => e);
    expect(err).toMatchObject({ code: 'llm_connect_timeout' });
    expect(err.message).toMatch(/no first token from the model within 300 ms/);
  });

  it('does not retry a first-token timeout: the server would read the same prompt again', async () => {
    server.requests.length = 0;
    server.script({ text: 'too slow', keepAlives: 10, keepAliveEveryMs: 100 }, { text: 'too slow', keepAlives: 10, keepAliveEveryMs: 100 });
    const err = await drain(client({ idleTimeoutMs: 5_000, firstTokenTimeoutMs: 300, maxRetries: 2 })).catch((e) => e);
    expect(err).toMatchObject({ code: 'llm_connect_timeout', retryable: false });
    expect(server.requests).toHaveLength(1);
  });
});
