import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { resolveSettings } from '../../src/config/settings.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { AnswerRecord } from '../../src/analytics/answers.js';
import { reviewId } from '../../src/review/queue.js';
import { ReviewService } from '../../src/review/service.js';
import { openStore, type Store } from '../../src/store/store.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/**
 * Two instances on one Redis share the queue: what one queues the other lists (the timeline is
 * a sorted set), and concurrent flags from both all land in the list.
 */
const settings = resolveSettings(loadConfig({ STORE_URL: REDIS_URL }));
const stores: Store[] = [];
let a: ReviewService;
let b: ReviewService;

beforeAll(async () => {
  const keyPrefix = uniquePrefix('review');
  for (let i = 0; i < 2; i++) stores.push(await openStore(REDIS_URL, { keyPrefix }));
  const service = (store: Store) => new ReviewService({ store, settings: () => settings, knowledge: () => undefined, log: silentLogger() });
  a = service(stores[0]!);
  b = service(stores[1]!);
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});

function answer(n: number): AnswerRecord {
  return {
    conversation: `slack:T1:C1:${n}`,
    day: '2026-11-25',
    profile: 'default',
    channel: 'slack:C1',
    question: `Question number ${n}?`,
    platform: 'slack',
    answerId: `17000000${n}.0001`,
    workspace: 'T1',
    thread: `${n}`,
    asker: { id: 'U1' },
    source: 'model',
    at: Date.now(),
    text: `Answer ${n}.`,
  };
}

describe('review queue shared through Redis', () => {
  it('lists on one instance what the other queued, including concurrent flags from both', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, n) => (n % 2 ? a : b).voted(answer(n), { id: `U${n}` }, 'down', `wrong ${n}`)));
    const seenByA = await a.list({ since: Date.now() - 60_000 });
    expect(seenByA.map((i) => i.question).sort()).toEqual(Array.from({ length: 10 }, (_, n) => `Question number ${n}?`).sort());
    await a.mark(reviewId('slack', answer(3).answerId), 'bad', 'lead');
    expect((await b.list({ since: Date.now() - 60_000, status: 'bad' })).map((i) => i.question)).toEqual(['Question number 3?']);
    expect(await b.list({ since: Date.now() - 60_000 })).toHaveLength(9);
  });

  it('keeps every flag when both instances flag the same answer at once (no lost update)', async () => {
    const same = answer(42);
    await Promise.all(Array.from({ length: 12 }, (_, n) => (n % 2 ? a : b).voted(same, { id: `V${n}` }, 'down', `reason ${n}`)));
    const item = await a.get(reviewId('slack', same.answerId));
    expect(item!.flags.map((f) => f.user!.id).sort()).toEqual(Array.from({ length: 12 }, (_, n) => `V${n}`).sort());
  });
});
