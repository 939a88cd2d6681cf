import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import type { KnowledgeBase } from '../../src/knowledge/base.js';
import { knowledgeMiddleware } from '../../src/knowledge/middleware.js';
import { DEFAULT_KNOWLEDGE_SETTINGS } from '../../src/config/knowledge.js';
import { LlmClient } from '../../src/llm/client.js';
import { AnswerCache } from '../../src/knowledge/answer-cache.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { copyOfExample, exampleKnowledge } from '../knowledge/helpers.js';

const log = silentLogger();
let fake: FakeOpenAI;
let kb: KnowledgeBase;
let dir: string;
let store: Store;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
  dir = copyOfExample();
  kb = await exampleKnowledge({ dir });
  store = await openStore('memory://');
});
afterAll(async () => {
  await fake.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The engine with the knowledge middleware, a real LLM client on the fake server, and a probe of `ctx.state.grounding`. */
function engine(seen: unknown[], results: TurnResult[], cache?: AnswerCache): Engine {
  const llm = new LlmClient({ baseURL: fake.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 0, log });
  const e = new Engine({
    history: new HistoryStore(store, { maxTurns: 20 }),
    llm,
    log,
    profile: { name: 'support', systemPrompt: 'Test.', model: 'fake-model', fallbackModels: [], contextWindow: 8_000, maxOutputTokens: 500 },
  });
  e.use(async (ctx, next) => {
    await next();
    seen.push(ctx.state.grounding);
  });
  e.use(
    knowledgeMiddleware({
      knowledge: () => kb,
      settings: () => ({ ...DEFAULT_KNOWLEDGE_SETTINGS, cacheTtlSeconds: cache ? 3_600 : 0 }),
      hasModel: () => true,
      cache,
      cacheMinGroundedness: () => 0.5,
    }),
  );
  e.onTurn((r) => void results.push(r));
  return e;
}

describe('live groundedness on every model answer with passages', () => {
  it('is high for an answer the passages support, low for one with invented numbers, on ctx.state.grounding and TurnResult', async () => {
    const seen: unknown[] = [];
    const results: TurnResult[] = [];
    const e = engine(seen, results);
    const adapter = new MemoryAdapter({ latencyMs: 1 });
    const question = 'Can I get a refund on an annual plan after three months?';
    fake.script(
      'Annual plans can be refunded in full within 30 days of purchase [1]. After 30 days the unused whole months are refunded, minus a 10% administration fee [1].',
      'Annual plans can be refunded within 90 days [1]. After that a 25% fee applies, and refunds arrive within 2 hours by wire transfer.',
    );
    const supported = await e.deliver(adapter, adapter.message(question));
    const invented = await e.deliver(adapter, adapter.message(question));
    expect(supported!.source).toBe('model');
    expect(supported!.grounding?.score).toBe(1);
    expect(invented!.grounding?.score).toBe(0);
    expect(results.map((r) => r.grounding?.score)).toEqual([1, 0]);
    expect(seen[0]).toMatchObject({ score: 1, unsupported: [] });
    expect(seen[1]).toMatchObject({ score: 0, unsupported: [{ inventedNumbers: ['90'] }, { inventedNumbers: ['25', '2'] }] });
    // The passages the model was given travel with the answer (the review queue shows them).
    expect(invented!.grounding!.passages[0]).toMatchObject({
      source: 'tallyho',
      path: 'billing/refunds.md',
      location: expect.stringContaining('billing/refunds.md'),
    });
    expect(invented!.grounding!.passages[0]!.text).toContain('30 days');
  });

  it('leaves answers without passages (FAQ, no relevant passage) without a score', async () => {
    const seen: unknown[] = [];
    const e = engine(seen, []);
    const adapter = new MemoryAdapter({ latencyMs: 1 });
    const faq = await e.deliver(adapter, adapter.message('How can I reset my password?'));
    expect(faq!.source).toBe('faq');
    fake.script('Paris is sunny today.');
    const general = await e.deliver(adapter, adapter.message('What is the weather in Paris tomorrow?'));
    expect(general!.source).toBe('model');
    expect([faq!.grounding, general!.grounding]).toEqual([undefined, undefined]);
    expect(seen).toEqual([undefined, undefined]);
  });

  it('does not cache an answer under the groundedness threshold: the next asker gets a fresh attempt', async () => {
    const e = engine([], [], new AnswerCache(store, { log }));
    const adapter = new MemoryAdapter({ latencyMs: 1 });
    const question = 'How long do refunds for an annual plan take?';
    fake.script('Annual plans can be refunded within 90 days [1]. After that a 25% fee applies.');
    const weak = await e.deliver(adapter, adapter.message(question, { thread: 'W1' }));
    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].');
    const fresh = await e.deliver(adapter, adapter.message(question, { thread: 'W2' }));
    const cached = await e.deliver(adapter, adapter.message(question, { thread: 'W3' }));
    expect([weak!.source, fresh!.source, cached!.source]).toEqual(['model', 'model', 'cache']);
    expect([weak!.grounding?.score, fresh!.grounding?.score]).toEqual([0, 1]);
    expect(cached!.text).toBe(fresh!.text);
  });
});
