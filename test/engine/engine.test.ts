import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Profile } from '../../src/config/profile.js';
import { LlmClient } from '../../src/llm/client.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'parley-engine-'));
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const stores: { name: string; url: () => string; opts?: () => { keyPrefix: string } }[] = [
  { name: 'memory', url: () => 'memory://' },
  { name: 'sqlite', url: () => `sqlite://${join(dir, `${Math.random().toString(36).slice(2)}.sqlite`)}` },
  { name: 'redis', url: () => REDIS_URL, opts: () => ({ keyPrefix: uniquePrefix('engine') }) },
];

const profile = (o: Partial<Profile> = {}): Profile => ({
  name: 'default',
  systemPrompt: 'You are a test assistant.',
  model: 'fake-model',
  fallbackModels: [],
  contextWindow: 8_000,
  maxOutputTokens: 500,
  ...o,
});

describe.each(stores)('engine on the $name store', (backend) => {
  let store: Store;
  let adapter: MemoryAdapter;
  const log = silentLogger();
  const llm = () => new LlmClient({ baseURL: fake.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 1, backoffBaseMs: 5, log });
  const engineWith = (p: Partial<Profile> = {}, history?: HistoryStore) =>
    new Engine({ history: history ?? new HistoryStore(store, { maxTurns: 50 }), llm: llm(), profile: profile(p), log });

  beforeEach(async () => {
    store = await openStore(backend.url(), backend.opts?.());
    adapter = new MemoryAdapter({ latencyMs: 2 });
    fake.requests.length = 0;
  });
  afterEach(() => store.close());

  it('answers with the model text exactly and carries the thread context to the next question', async () => {
    const engine = engineWith();
    fake.script({ text: 'Our refund window is **30 days**.', chunkDelayMs: 5 });
    const m1 = adapter.message('What is the refund window?');
    const r1 = await engine.deliver(adapter, m1);
    expect(adapter.shown(m1.id)).toBe('Our refund window is **30 days**.');
    expect(r1).toMatchObject({ source: 'model', model: 'fake-model', text: 'Our refund window is **30 days**.' });
    expect(r1!.usage!.completionTokens).toBeGreaterThan(0);

    const m2 = adapter.message('And for digital goods?');
    await engine.deliver(adapter, m2);
    const sent = fake.chatRequests[1]!.body.messages;
    expect(sent.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(sent[1].content).toBe('What is the refund window?');
    expect(sent[2].content).toBe('Our refund window is **30 days**.');
    expect(sent[3].content).toBe('And for digital goods?');
    expect(sent[0].content).toContain('You are a test assistant.');
  });

  it('keeps conversations apart: another thread or workspace starts empty', async () => {
    const engine = engineWith();
    await engine.deliver(adapter, adapter.message('first thread'));
    await engine.deliver(adapter, adapter.message('other workspace, same ids', { workspace: 'W2' }));
    await engine.deliver(adapter, adapter.message('other thread', { thread: 'T2' }));
    expect(fake.chatRequests[1]!.body.messages).toHaveLength(2);
    expect(fake.chatRequests[2]!.body.messages).toHaveLength(2);
  });

  it('trims the oldest turns to fit the context window, never the question', async () => {
    const history = new HistoryStore(store, { maxTurns: 50 });
    const engine = engineWith({ contextWindow: 400, maxOutputTokens: 100 }, history);
    for (let i = 0; i < 6; i++) {
      fake.script(`Answer number ${i} ` + 'with some padding words '.repeat(6));
      await engine.deliver(adapter, adapter.message(`Question number ${i} ` + 'and some more words '.repeat(6)));
    }
    const last = fake.chatRequests.at(-1)!.body.messages as { role: string; content: string }[];
    expect(last.at(-1)!.content).toMatch(/^Question number 5/);
    // Older turns were dropped, the newest kept, in order.
    expect(last.length).toBeLessThan(12);
    expect(last.some((m) => m.content.startsWith('Question number 0'))).toBe(false);
    expect(last[last.length - 2]!.content).toMatch(/^Answer number 4/);
    expect(last[1]!.role).toBe('user');
  });

  it('declines a question that cannot fit, saying so, without calling the model', async () => {
    const engine = engineWith({ contextWindow: 300, maxOutputTokens: 100 });
    const m = adapter.message('word '.repeat(500));
    const r = await engine.deliver(adapter, m);
    expect(fake.chatRequests).toHaveLength(0);
    expect(r!.source).toBe('declined');
    expect(adapter.shown(m.id)).toMatch(/too long for the model \(about \d+ tokens; it accepts about \d+\)/);
  });

  it('answers one reply at a time per conversation, merging what arrived meanwhile', async () => {
    const engine = engineWith();
    fake.script({ text: 'slow first answer '.repeat(5), chunkDelayMs: 30 });
    const m1 = adapter.message('first');
    const p1 = engine.deliver(adapter, m1);
    await new Promise((r) => setTimeout(r, 60));
    const m2 = adapter.message('second');
    const m3 = adapter.message('third');
    const p2 = engine.deliver(adapter, m2);
    const p3 = engine.deliver(adapter, m3);
    const [r1, r2, r3] = await Promise.all([p1, p2, p3]);
    expect(fake.chatRequests).toHaveLength(2);
    // The second request started only after the first reply was complete…
    expect(fake.chatRequests[1]!.at).toBeGreaterThanOrEqual(r1!.finishedAt);
    // …and carries both waiting messages as one question, after the first turn.
    const sent = fake.chatRequests[1]!.body.messages;
    expect(sent.at(-1).content).toBe('second\n\nthird');
    expect(sent.at(-2).content).toBe('slow first answer '.repeat(5));
    expect(r2).toBe(r3);
    expect(adapter.shown(m3.id)).toBe('You asked: second\n\nthird');
  });

  it('answers different conversations at the same time', async () => {
    const engine = engineWith();
    fake.script({ text: 'a '.repeat(10), chunkDelayMs: 20 }, { text: 'b '.repeat(10), chunkDelayMs: 20 });
    const [ra, rb] = await Promise.all([
      engine.deliver(adapter, adapter.message('one', { thread: 'A' })),
      engine.deliver(adapter, adapter.message('two', { thread: 'B' })),
    ]);
    // Overlapping turns: the second started before the first finished.
    expect(Math.max(ra!.startedAt, rb!.startedAt)).toBeLessThan(Math.min(ra!.finishedAt, rb!.finishedAt));
  });

  it('keeps the partial text and adds a clear note when the stream fails mid-way', async () => {
    const engine = engineWith();
    fake.script({ text: 'This is the start of a long answer', cutAfterChunks: 4 });
    const m = adapter.message('tell me');
    const r = await engine.deliver(adapter, m);
    expect(adapter.shown(m.id)).toMatch(
      /^This is the start \n\n_⚠️ The answer was cut off \(the connection to the model failed\)\. Ask again to get the rest\._$/,
    );
    expect(r!.error).toBe('llm_network');
  });

  it('says plainly when the model cannot be reached, and does not store the failed turn', async () => {
    const history = new HistoryStore(store, { maxTurns: 50 });
    const engine = engineWith({}, history);
    fake.script({ status: 500 }, { status: 500 });
    const m = adapter.message('hello?');
    const r = await engine.deliver(adapter, m);
    expect(r!.source).toBe('error');
    expect(adapter.shown(m.id)).toBe('⚠️ I could not get an answer from the model (the model service had an error). Please try again in a moment.');
    expect(await history.load(r!.conversation)).toEqual([]);
  });

  it('runs middleware: it can rewrite the question, add context, or answer without the model', async () => {
    const engine = engineWith().use(async (ctx, next) => {
      if (ctx.question === 'ping') {
        ctx.answer = { text: 'pong', source: 'faq' };
        return;
      }
      ctx.question = ctx.question.replace(/sk-[a-z0-9]+/g, '[secret]');
      ctx.context.push('Knowledge: the office opens at 9.');
      ctx.notices.push('A secret was removed from your question.');
      await next();
    });
    const faq = adapter.message('ping');
    expect((await engine.deliver(adapter, faq))!.source).toBe('faq');
    expect(adapter.shown(faq.id)).toBe('pong');
    expect(fake.chatRequests).toHaveLength(0);

    const m = adapter.message('my key sk-abc123 fails');
    await engine.deliver(adapter, m);
    const sent = fake.chatRequests[0]!.body.messages;
    expect(sent.at(-1).content).toBe('my key [secret] fails');
    expect(sent[0].content).toContain('Knowledge: the office opens at 9.');
    expect(adapter.shown(m.id)).toBe('You asked: my key [secret] fails\n\n_A secret was removed from your question._');
  });

  it('reports a throwing middleware to the error hook and still answers the asker', async () => {
    const seen: string[] = [];
    const engine = engineWith()
      .use(async () => {
        throw new Error('boom');
      })
      .catch((err) => seen.push(`${err.code}:${err.conversation}`));
    const m = adapter.message('hi');
    const r = await engine.deliver(adapter, m);
    expect(seen).toEqual(['handler_failed:memory:W1:C1:T1']);
    expect(r!.source).toBe('error');
    expect(adapter.shown(m.id)).toMatch(/^⚠️ Something went wrong/);
  });

  it('reports a plain (not async) middleware that throws synchronously to the error hook, behind one that hands next() on', async () => {
    const seen: string[] = [];
    const engine = engineWith()
      .use((_ctx, next) => next())
      .use(() => {
        throw new Error('sync boom');
      })
      .catch((err) => seen.push(`${err.code}:${err.conversation}:${(err.cause as Error).message}`));
    const m = adapter.message('hi');
    const r = await engine.deliver(adapter, m);
    expect(seen).toEqual(['handler_failed:memory:W1:C1:T1:sync boom']);
    expect(r!.source).toBe('error');
    expect(adapter.shown(m.id)).toMatch(/^⚠️ Something went wrong/);
  });
});
