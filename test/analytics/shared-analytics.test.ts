import { afterAll, describe, expect, it } from 'vitest';
import { SupportAnalytics } from '../../src/analytics/support-analytics.js';
import { buildReport } from '../../src/analytics/report.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import { conversationKey, type IncomingMessage } from '../../src/kernel/types.js';
import { openStore, type Store } from '../../src/store/store.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/**
 * Several instances on one Redis write the same analytics buckets: every recording of every
 * instance must count (each holds the analytics in the store while it reads and writes).
 */
const stores: Store[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

function turn(n: number, at: number): TurnResult {
  const message: IncomingMessage = {
    platform: 'slack',
    workspace: 'T1',
    channel: 'C1',
    thread: `${n}`,
    id: `${n}`,
    user: { id: `U${n}` },
    text: `Question ${n}?`,
    attachments: [],
    trigger: 'mention',
    receivedAt: at,
  };
  return {
    conversation: conversationKey(message),
    message,
    profile: 'default',
    question: message.text,
    text: 'answer',
    source: 'model',
    citations: [],
    usage: { promptTokens: 10, completionTokens: 5 },
    startedAt: at,
    firstVisibleAt: at + 100,
    finishedAt: at + 500,
    updates: 1,
    grounding: { score: n % 2 ? 1 : 0, passages: [], unsupported: [] },
    ...(n % 5 === 0 && { incomplete: true, finishReason: 'length' }),
  };
}

describe('support analytics shared through Redis', () => {
  it('loses no update when three instances record into the same bucket at once', async () => {
    const keyPrefix = uniquePrefix('analytics');
    for (let i = 0; i < 3; i++) stores.push(await openStore(REDIS_URL, { keyPrefix }));
    const instances = stores.map((s) => new SupportAnalytics(s, { quietPeriodMs: 86_400_000 }));
    const now = Date.now();
    await Promise.all(Array.from({ length: 30 }, (_, n) => instances[n % 3]!.recordTurn(turn(n, now), { queuedForReview: n % 2 === 0 })));
    const r = await buildReport(instances[0]!, { since: now - 3_600_000, until: now + 3_600_000 });
    expect(r.totals).toMatchObject({
      questions: 30,
      threads: 30,
      promptTokens: 300,
      completionTokens: 150,
      groundedAnswers: 30,
      groundedness: 0.5,
      queuedForReview: 15,
      incomplete: 6,
      cutAtLength: 6,
    });
    expect(r.totals.sources).toEqual({ model: 30 });
  });
});
