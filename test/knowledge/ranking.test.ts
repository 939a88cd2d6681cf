import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/kernel/logger.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { CachedEmbedder, HttpEmbedder } from '../../src/knowledge/embeddings.js';
import { isRelevant } from '../../src/knowledge/selection.js';
import { DEFAULT_KNOWLEDGE_SETTINGS } from '../../src/config/knowledge.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { copyOfExample, exampleKnowledge, exampleSource } from './helpers.js';

const paths = async (kb: KnowledgeBase, q: string, context?: string) => (await kb.search(q, { k: 3, context })).map((h) => h.passage.path);

describe('full-text ranking (BM25) over the example knowledge', () => {
  let kb: KnowledgeBase;
  beforeAll(async () => {
    kb = await exampleKnowledge();
  });

  it('indexes every page and FAQ entry, and ranks the page that answers first', async () => {
    expect(kb.stats.files).toBeGreaterThanOrEqual(40);
    expect(kb.stats.faqEntries).toBeGreaterThanOrEqual(10);
    expect((await paths(kb, 'How long is the refund window for annual plans?'))[0]).toBe('billing/refunds.md');
    expect((await paths(kb, 'How do I verify webhook signatures?'))[0]).toBe('api/webhooks.md');
    expect((await paths(kb, 'Does the desktop app detect when I am idle?'))[0]).toBe('time-tracking/idle-detection.md');
    const top = (await kb.search('How do I verify webhook signatures?', { k: 1 }))[0]!;
    // Cited by section, with the path and anchor of the passage.
    expect(top.passage).toMatchObject({ title: 'Webhooks › Verifying signatures', location: 'examples/knowledge/api/webhooks.md#verifying-signatures' });
  });

  it('reports how much of the question a passage covers, so unrelated questions find nothing relevant', async () => {
    const weather = await kb.search('What will the weather be like in Paris tomorrow?', { k: 3 });
    expect(weather.filter((h) => isRelevant(h, DEFAULT_KNOWLEDGE_SETTINGS))).toEqual([]);
    const refund = await kb.search('refund annual plan', { k: 1 });
    expect(refund[0]!.coverage).toBe(1);
  });

  it('uses recent thread context: a follow-up that leaves out the subject still finds the right page', async () => {
    const alone = await paths(kb, 'And what about yearly ones?');
    expect(alone).not.toContain('billing/refunds.md');
    const withThread = await paths(kb, 'And what about yearly ones?', 'What is your refund policy for monthly plans?');
    expect(withThread).toContain('billing/refunds.md');
  });

  it('searches only the sources a profile names', async () => {
    const two = new KnowledgeBase([exampleSource(), { ...exampleSource(), name: 'other' }], { log: silentLogger() });
    await two.load();
    const hits = await two.search('refund annual plans', { sources: ['other'], k: 5 });
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => h.passage.source === 'other')).toBe(true);
  });
});

describe('hybrid ranking with embeddings', () => {
  let fake: FakeOpenAI;
  let store: Store;
  let dir: string;
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    store = await openStore('memory://');
    dir = copyOfExample();
  });
  afterAll(async () => {
    await fake.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const embedder = () => new CachedEmbedder(new HttpEmbedder({ baseURL: fake.url, model: 'embed-small' }), store, silentLogger());

  it('embeds each passage once: re-indexing unchanged text sends nothing, an edit sends only the changed passage', async () => {
    const first = embedder();
    const kb = new KnowledgeBase([exampleSource(dir)], { log: silentLogger(), embedder: first });
    await kb.load();
    expect(first.embeddedCount).toBe(kb.size);
    const hits = await kb.search('verify webhook signatures', { k: 3 });
    expect(hits[0]!.passage.path).toBe('api/webhooks.md');
    expect(hits[0]!.similarity).toBeGreaterThan(0);

    // A new process over the same store: everything comes from the cache.
    const second = embedder();
    const again = new KnowledgeBase([exampleSource(dir)], { log: silentLogger(), embedder: second });
    await again.load();
    expect(second.embeddedCount).toBe(0);

    writeFileSync(join(dir, 'api/rate-limits.md'), '# API rate limits\n\n## Limits\n\nEach token may make 200 requests per 15 seconds per workspace now.\n');
    await again.refresh();
    // Only the changed page's passage(s) were embedded (plus nothing else).
    expect(second.embeddedCount).toBe(1);
    const body = fake.embeddingRequests.at(-1)!.body;
    expect(body).toMatchObject({ model: 'embed-small', input: [expect.stringContaining('200 requests per 15 seconds')] });
  });

  it("keeps the pages' embeddings in the store but never a question's (it would outlive /parley forget)", async () => {
    const own = await openStore('memory://');
    try {
      const kb = new KnowledgeBase([exampleSource(dir)], {
        log: silentLogger(),
        embedder: new CachedEmbedder(new HttpEmbedder({ baseURL: fake.url, model: 'embed-small' }), own, silentLogger()),
      });
      await kb.load();
      const count = async () => {
        let n = 0;
        for await (const _ of own.entries('embeddings')) n++;
        return n;
      };
      const stored = await count();
      expect(stored).toBe(kb.size);
      const asked = fake.embeddingRequests.length;
      const hits = await kb.search('my name is Ada Lovelace and I want to verify webhook signatures', { k: 3 });
      expect(hits[0]!.similarity).toBeGreaterThan(0);
      expect(fake.embeddingRequests.length).toBe(asked + 1); // the question was embedded…
      expect(await count()).toBe(stored); // …and not kept
    } finally {
      await own.close();
    }
  });

  it('falls back to full text when the embeddings endpoint fails at question time', async () => {
    const kb = new KnowledgeBase([exampleSource(dir)], { log: silentLogger(), embedder: embedder() });
    await kb.load();
    fake.embeddingStatus = 500;
    try {
      const hits = await kb.search('a question never embedded before about webhook signatures', { k: 3 });
      expect(hits[0]!.passage.path).toBe('api/webhooks.md');
      expect(hits[0]!.similarity).toBeUndefined();
    } finally {
      fake.embeddingStatus = 0;
    }
  });
});

describe('re-indexing on file change', () => {
  it('picks up an edited page by itself and changes the knowledge version', async () => {
    const dir = copyOfExample();
    const kb = await exampleKnowledge({ dir });
    const before = kb.version;
    const changed = new Promise<string>((r) => kb.once('change', r));
    kb.watch(20);
    try {
      writeFileSync(join(dir, 'billing/gift-cards.md'), '# Gift cards\n\nTallyho gift cards can be redeemed under Settings, Billing, Redeem a gift card.\n');
      await changed;
      expect(kb.version).not.toBe(before);
      await vi.waitFor(async () => expect((await kb.search('redeem a gift card', { k: 1 }))[0]?.passage.path).toBe('billing/gift-cards.md'));
    } finally {
      kb.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
