import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Engine, NOTES } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Profile } from '../../src/config/profile.js';
import { LlmClient } from '../../src/llm/client.js';
import { AnswerCache } from '../../src/knowledge/answer-cache.js';
import type { KnowledgeBase } from '../../src/knowledge/base.js';
import { KNOWLEDGE_NOTES, knowledgeMiddleware } from '../../src/knowledge/middleware.js';
import { DEFAULT_KNOWLEDGE_SETTINGS, type KnowledgeSettings } from '../../src/config/knowledge.js';
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
  fake = await FakeOpenAI.start();
  dir = copyOfExample();
  kb = await exampleKnowledge({ dir });
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const profile = (o: Partial<Profile> = {}): Profile => ({
  name: 'support',
  systemPrompt: 'You are a test assistant.',
  model: 'fake-model',
  fallbackModels: [],
  contextWindow: 8_000,
  maxOutputTokens: 500,
  ...o,
});

describe('knowledge middleware in the engine', () => {
  let store: Store;
  let adapter: MemoryAdapter;
  beforeEach(async () => {
    store = await openStore('memory://');
    adapter = new MemoryAdapter({ latencyMs: 1 });
    fake.requests.length = 0;
  });
  afterEach(() => store.close());

  const engineWith = (p: Partial<Profile> = {}, o: { settings?: Partial<KnowledgeSettings>; model?: boolean } = {}) => {
    const llm =
      o.model === false ? undefined : new LlmClient({ baseURL: fake.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 1, backoffBaseMs: 1, log });
    const prof = profile(o.model === false ? { model: undefined, ...p } : p);
    const engine = new Engine({ history: new HistoryStore(store, { maxTurns: 20 }), llm, profile: prof, log });
    engine.use(
      knowledgeMiddleware({
        knowledge: () => kb,
        settings: () => ({ ...DEFAULT_KNOWLEDGE_SETTINGS, ...o.settings }),
        hasModel: (x) => !!llm && !!x.model,
        cache: new AnswerCache(store, { log }),
      }),
    );
    return engine;
  };

  it('answers a close FAQ match from the FAQ without calling the model, marked faq, with its source', async () => {
    const engine = engineWith();
    const m = adapter.message('How can I reset my password?');
    const r = await engine.deliver(adapter, m);
    expect(fake.chatRequests).toHaveLength(0);
    expect(r).toMatchObject({ source: 'faq', citations: [{ title: 'Resetting your password', location: 'examples/knowledge/account/reset-password.md' }] });
    expect(adapter.shown(m.id)).toContain('Forgot password?');
    // The citations reach the surface's complete() (where each platform renders its footer).
    expect(adapter.replies.get(m.id)!.completed).toMatchObject({ source: 'faq', citations: [{ location: 'examples/knowledge/account/reset-password.md' }] });
  });

  it('sends a near-miss to the model with the relevant passages, numbered, and cites the ones used', async () => {
    const engine = engineWith();
    fake.script('Annual plans are refundable within 30 days [1].');
    const m = adapter.message('Can I get a refund on an annual plan after three months?');
    const r = await engine.deliver(adapter, m);
    expect(fake.chatRequests).toHaveLength(1);
    const system = fake.chatRequests[0]!.body.messages[0].content as string;
    expect(system).toMatch(/\[1\] Refund policy › Annual plans \(examples\/knowledge\/billing\/refunds\.md#annual-plans\)/);
    expect(r!.source).toBe('model');
    expect(r!.citations).toEqual([
      { id: 'tallyho:billing/refunds.md#annual-plans', title: 'Refund policy › Annual plans', location: 'examples/knowledge/billing/refunds.md#annual-plans' },
    ]);
    expect(adapter.replies.get(m.id)!.completed!.citations).toEqual(r!.citations);
  });

  it('grounded: says it does not know, without a model call, when nothing relevant scores above the threshold', async () => {
    const engine = engineWith({ answerMode: 'grounded' });
    const r = await engine.deliver(adapter, adapter.message('What will the weather be in Paris tomorrow?'));
    expect(fake.chatRequests).toHaveLength(0);
    expect(r).toMatchObject({ source: 'declined', text: KNOWLEDGE_NOTES.grounded });
  });

  it('general: asks the model without passages when nothing is relevant, and cites nothing', async () => {
    const engine = engineWith({ answerMode: 'general' });
    fake.script('Probably sunny.');
    const r = await engine.deliver(adapter, adapter.message('What will the weather be in Paris tomorrow?'));
    expect(fake.chatRequests[0]!.body.messages[0].content).toBe('You are a test assistant.');
    expect(r).toMatchObject({ source: 'model', text: 'Probably sunny.', citations: [] });
  });

  it('degraded: when the model keeps failing (500s after retries), quotes the best passage with its source, saying so', async () => {
    const engine = engineWith();
    fake.script({ status: 500 }, { status: 500 });
    const m = adapter.message('How do I verify webhook signatures?');
    const r = await engine.deliver(adapter, m);
    expect(fake.chatRequests).toHaveLength(2); // the first call and its retry
    expect(r!.source).toBe('knowledge');
    expect(r!.error).toBe('llm_server_error');
    expect(r!.text).toContain(KNOWLEDGE_NOTES.modelDown);
    expect(r!.text).toContain('> Each delivery has a `Tallyho-Signature` header');
    expect(r!.citations).toEqual([expect.objectContaining({ location: 'examples/knowledge/api/webhooks.md#verifying-signatures' })]);
    expect(adapter.shown(m.id)).toBe(r!.text);
  });

  it('degraded: with no model configured at all, answers from the knowledge base and says so', async () => {
    const engine = engineWith({}, { model: false });
    const r = await engine.deliver(adapter, adapter.message('How do I verify webhook signatures?'));
    expect(r).toMatchObject({ source: 'knowledge', error: undefined });
    expect(r!.text.startsWith(`_${KNOWLEDGE_NOTES.noModel}_`)).toBe(true);
    const faq = await engine.deliver(adapter, adapter.message('Is there a Linux app?', { thread: 'T9' }));
    expect(faq).toMatchObject({ source: 'faq', text: expect.stringContaining(KNOWLEDGE_NOTES.faqNoModel) });
    // Nothing relevant: the engine's own "no model" reply, unchanged.
    const none = await engine.deliver(adapter, adapter.message('What will the weather be in Paris?', { thread: 'T10' }));
    expect(none).toMatchObject({ source: 'declined', text: NOTES.noModel, error: 'llm_not_configured' });
    expect(fake.chatRequests).toHaveLength(0);
  });

  it('answers a repeated identical question from the cache, but not in a thread with context, and not after the knowledge changed', async () => {
    const engine = engineWith();
    fake.script('Invoices are created from unbilled time [1].');
    const q = 'How do I create an invoice from tracked time?';
    const first = await engine.deliver(adapter, adapter.message(q, { thread: 'A' }));
    expect(first!.source).toBe('model');
    const again = await engine.deliver(adapter, adapter.message('how do I create an invoice from tracked time', { thread: 'B' }));
    expect(again).toMatchObject({ source: 'cache', text: first!.text, citations: first!.citations });
    expect(fake.chatRequests).toHaveLength(1);

    // Same words inside a thread that already has context: the model answers.
    fake.script('In this thread: see above.');
    const inThread = await engine.deliver(adapter, adapter.message(q, { thread: 'A' }));
    expect(inThread!.source).toBe('model');
    expect(fake.chatRequests).toHaveLength(2);

    // A knowledge edit changes the version: the cached answer is not served.
    const before = kb.version;
    writeFileSync(
      join(dir, 'invoicing/create-invoice.md'),
      '# Creating an invoice\n\n## From tracked time\n\nOpen Invoices, New invoice, pick a client; unbilled time is added.\n',
    );
    await kb.refresh();
    expect(kb.version).not.toBe(before);
    fake.script('Updated answer.');
    const after = await engine.deliver(adapter, adapter.message(q, { thread: 'C' }));
    expect(after).toMatchObject({ source: 'model', text: 'Updated answer.' });
    expect(fake.chatRequests).toHaveLength(3);
  });
});
