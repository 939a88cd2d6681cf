import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FinalReply } from '../../src/kernel/adapter.js';
import { Engine, NOTES } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import { AnswerCache } from '../../src/knowledge/answer-cache.js';
import type { KnowledgeBase } from '../../src/knowledge/base.js';
import { knowledgeMiddleware } from '../../src/knowledge/middleware.js';
import { DEFAULT_KNOWLEDGE_SETTINGS, type KnowledgeSettings } from '../../src/config/knowledge.js';
import { LlmClient } from '../../src/llm/client.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { copyOfExample, exampleKnowledge } from './helpers.js';

const log = silentLogger();
let fake: FakeOpenAI;
let kb: KnowledgeBase;
let dir: string;
beforeAll(async () => {
  dir = copyOfExample();
  kb = await exampleKnowledge({ dir });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const QUESTION = 'Can I get a refund on an annual plan after three months?';

describe('incomplete answers and the answer cache', () => {
  let store: Store;
  let adapter: MemoryAdapter;
  let answers: FinalReply[];
  let results: TurnResult[];
  // A fake model per test: a script one test leaves unused never answers the next.
  beforeEach(async () => {
    fake = await FakeOpenAI.start();
    store = await openStore('memory://');
    adapter = new MemoryAdapter({ latencyMs: 1 });
    answers = [];
    results = [];
  });
  afterEach(async () => {
    await fake.close();
    await store.close();
  });

  const engineWith = (settings: () => Partial<KnowledgeSettings> = () => ({})) => {
    const llm = new LlmClient({ baseURL: fake.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 0, backoffBaseMs: 1, log });
    const engine = new Engine({
      history: new HistoryStore(store, { maxTurns: 20 }),
      llm,
      log,
      profile: { name: 'support', systemPrompt: 'Test.', model: 'fake-model', fallbackModels: [], contextWindow: 8_000, maxOutputTokens: 500 },
    });
    // What the knowledge middleware leaves as the answer (what the cache would hold).
    engine.use(async (ctx, next) => {
      await next();
      if (ctx.answer) answers.push(ctx.answer);
    });
    engine.use(
      knowledgeMiddleware({
        knowledge: () => kb,
        settings: () => ({ ...DEFAULT_KNOWLEDGE_SETTINGS, ...settings() }),
        hasModel: () => true,
        cache: new AnswerCache(store, { log }),
      }),
    );
    engine.onTurn((r) => void results.push(r));
    return engine;
  };

  it('does not cache an answer interrupted by shutdown: the next asker gets a fresh answer, not "Parley is restarting"', async () => {
    const engine = engineWith();
    const partial = ['Annual plans ', 'can be refunded ', 'in full within ', '30 days of purchase [1]. '];
    fake.script({ chunks: [...partial, ...Array.from({ length: 40 }, () => 'More text. ')], chunkDelayMs: 100 });
    const asked = engine.deliver(adapter, adapter.message(QUESTION, { thread: 'I1' }));
    await vi.waitFor(() => expect(fake.chatRequests).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 450)); // the first chunks have arrived
    await engine.shutdown(0);
    const interrupted = await asked;
    expect(interrupted!.source).toBe('model');
    expect(interrupted!.text.endsWith(NOTES.interrupted)).toBe(true);
    // The engine says the reply is incomplete and where its answer ends.
    const reply = answers[0]!;
    expect(reply.incomplete).toBe(true);
    expect(reply.text.slice(0, reply.answerLength)).toBe(interrupted!.text.slice(0, -NOTES.interrupted.length));
    expect(reply.text.slice(0, reply.answerLength).startsWith('Annual plans can be refunded')).toBe(true);
    // Groundedness scores the answer, not the note.
    expect(interrupted!.grounding!.unsupported.map((u) => u.text).join(' ')).not.toContain('restarting');

    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].');
    const again = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'I2' }));
    expect(again).toMatchObject({ source: 'model', text: 'Annual plans can be refunded in full within 30 days of purchase [1].' });
    expect(fake.chatRequests).toHaveLength(2);
  });

  it('does not cache an answer cut off by a model failure, and marks it incomplete', async () => {
    const engine = engineWith();
    fake.script({ text: 'Annual plans can be refunded in full within 30 days of purchase [1]. After that', cutAfterChunks: 6 });
    const cut = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'C1' }));
    expect(cut!.source).toBe('model');
    expect(cut!.text).toContain('The answer was cut off');
    expect(answers[0]).toMatchObject({ incomplete: true, answerLength: expect.any(Number) });
    expect(answers[0]!.text.slice(answers[0]!.answerLength)).toMatch(/^\n\n_⚠️ The answer was cut off/);

    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].');
    const again = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'C2' }));
    expect(again!.source).toBe('model');
    // A complete answer is cached and carries no incomplete mark.
    expect(answers[1]!.incomplete).toBeUndefined();
    const cached = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'C3' }));
    expect(cached).toMatchObject({ source: 'cache', text: again!.text });
  });

  it('caches neither an answer cut at the length limit nor a one-word answer (0 judged sentences scores 1)', async () => {
    const engine = engineWith();
    fake.script({ text: 'Annual plans can be refunded in full within 30 days', finishReason: 'length' });
    const cut = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'L1' }));
    expect(cut).toMatchObject({ source: 'model', incomplete: true, finishReason: 'length' });
    expect(cut!.text).toMatch(/cut at the length limit/);

    fake.script('Yes.');
    const short = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'L2' }));
    expect(short).toMatchObject({ source: 'model', text: 'Yes.' });
    expect(short!.grounding).toMatchObject({ score: 1, judged: 0 });

    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].');
    const real = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'L3' }));
    expect(real!.source).toBe('model');
    expect(fake.chatRequests).toHaveLength(3);
    const cached = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'L4' }));
    expect(cached).toMatchObject({ source: 'cache', text: real!.text });
  });

  it('scores all of a complete answer, even a part of it that looks like an engine note', async () => {
    const engine = engineWith();
    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].\n\n_⚠️ Refunds arrive within 90 days by wire transfer._');
    const r = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'G1' }));
    expect(r!.source).toBe('model');
    expect(r!.grounding).toMatchObject({ score: 0.5, unsupported: [{ inventedNumbers: ['90'] }] });
  });

  it('cites every passage named in a marker for several, "[1, 2]", not only single ones', async () => {
    const engine = engineWith(() => ({ threshold: 0, scoreRatio: 0, topK: 8 }));
    fake.script('Refunds follow the policy [1, 2]. Plans are priced per seat [3].');
    const r = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'R1' }));
    // Each numbered block is cited as the passage its header names.
    const system = fake.chatRequests[0]!.body.messages[0].content as string;
    const headers = [...system.matchAll(/^\[(\d+)\] .* \((\S+)\)$/gm)].map((m) => m[2]);
    expect(headers.length).toBeGreaterThanOrEqual(4);
    expect(r!.citations!.map((c) => c.location)).toEqual(headers.slice(0, 3));
  });

  it('caches with the lifetime configured now: a reload from 0 to a day caches for a day', async () => {
    let ttl = 0;
    const engine = engineWith(() => ({ cacheTtlSeconds: ttl }));
    fake.script('Off: not cached [1].');
    expect((await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'T1' })))!.source).toBe('model');
    ttl = 86_400; // a config reload
    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].');
    const first = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'T2' }));
    expect(first!.source).toBe('model');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3_600_000 }); // an hour later
    try {
      const later = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'T3' }));
      expect(later).toMatchObject({ source: 'cache', text: first!.text });
      vi.setSystemTime(Date.now() + 86_400_000); // past the day
      fake.script('A day later [1].');
      const expired = await engine.deliver(adapter, adapter.message(QUESTION, { thread: 'T4' }));
      expect(expired).toMatchObject({ source: 'model', text: 'A day later [1].' });
    } finally {
      vi.useRealTimers();
    }
  });
});
