import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BudgetAlert } from '../../src/guardrails/budgets.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { rig, WhisperingAdapter } from './harness.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());

const backends = [
  { name: 'memory', open: async () => ({ a: await openStore('memory://'), b: undefined as Store | undefined }) },
  {
    name: 'redis',
    open: async () => {
      const keyPrefix = uniquePrefix('guardrails');
      // Two instances sharing one Redis.
      return { a: await openStore(REDIS_URL, { keyPrefix }), b: await openStore(REDIS_URL, { keyPrefix }) };
    },
  },
];

describe.each(backends)('rate limits and budgets on the $name store', (backend) => {
  let store: Store;
  let second: Store | undefined;
  let adapter: WhisperingAdapter;
  let clock: number;
  const now = () => clock;
  beforeEach(async () => {
    ({ a: store, b: second } = await backend.open());
    adapter = new WhisperingAdapter();
    fake.requests.length = 0;
    (fake as unknown as { scripts: unknown[] }).scripts.length = 0;
    clock = Date.UTC(2026, 10, 25, 12, 0, 0);
  });
  afterEach(async () => {
    await store.close();
    await second?.close();
  });

  it('allows 20 questions a minute per user by default, then says when to try again; the window slides', async () => {
    const { ask } = rig({ store, fake, deps: { now } });
    for (let i = 0; i < 20; i++) {
      clock += 1_000;
      expect((await ask(adapter, adapter.message(`q${i}`, { thread: `T${i}` })))!.source).toBe('model');
    }
    clock += 1_000; // 21 s after the first question
    const m = adapter.message('one more', { thread: 'Tx' });
    const r = await ask(adapter, m);
    expect(r!.source).toBe('rate_limited');
    expect(fake.chatRequests).toHaveLength(20);
    expect(adapter.noted(m.id)).toBe('You have asked 20 questions in the last minute, which is the limit. Please try again in 40 seconds.');
    // Another user is not affected.
    expect((await ask(adapter, adapter.message('other user', { user: { id: 'U2' }, thread: 'Ty' })))!.source).toBe('model');
    // Once the first question is older than a minute there is room for one more.
    clock += 40_000;
    expect((await ask(adapter, adapter.message('again', { thread: 'Tz' })))!.source).toBe('model');
  });

  it('limits a channel, and shares the windows between instances on one store', async () => {
    const settings = { rateLimits: { perUser: { limit: 100 }, perChannel: { limit: 3, windowSeconds: 3600 } } };
    const one = rig({ store, fake, settings, deps: { now } });
    const two = rig({ store: second ?? store, fake, settings, deps: { now } });
    await one.ask(adapter, adapter.message('a', { thread: 'A', user: { id: 'U1' } }));
    await two.ask(adapter, adapter.message('b', { thread: 'B', user: { id: 'U2' } }));
    await one.ask(adapter, adapter.message('c', { thread: 'C', user: { id: 'U3' } }));
    clock += 60_000;
    const m = adapter.message('d', { thread: 'D', user: { id: 'U4' } });
    const r = await two.ask(adapter, m);
    expect(r!.source).toBe('rate_limited');
    expect(adapter.noted(m.id)).toBe('This channel has asked 3 questions in the last hour, which is the limit. Please try again in 59 minutes.');
    expect((await two.ask(adapter, adapter.message('other channel', { channel: 'C2', thread: 'E' })))!.source).toBe('model');
  });

  it('stops calling the model when a user’s daily token budget is spent, says so, and resets the next day', async () => {
    const alerts: BudgetAlert[] = [];
    const { ask } = rig({
      store,
      fake,
      settings: { budgets: { dailyTokens: { perUser: 1_000 } } },
      deps: { now, notifyAdmins: (_t, a) => void alerts.push(a) },
    });
    fake.script(
      { text: 'first', usage: { prompt_tokens: 500, completion_tokens: 300 } },
      { text: 'second', usage: { prompt_tokens: 250, completion_tokens: 50 } },
    );
    await ask(adapter, adapter.message('q1', { thread: 'A' }));
    expect(alerts.map((a) => a.threshold)).toEqual([0.8]);
    await ask(adapter, adapter.message('q2', { thread: 'B' }));
    expect(alerts.map((a) => [a.budget, a.threshold, a.used, a.limit])).toEqual([
      ['user_daily_tokens', 0.8, 800, 1_000],
      ['user_daily_tokens', 1, 1_100, 1_000],
    ]);
    const m = adapter.message('q3', { thread: 'C' });
    const r = await ask(adapter, m);
    expect(fake.chatRequests).toHaveLength(2);
    expect(r!.source).toBe('budget_spent');
    expect(adapter.noted(m.id)).toBe(
      "Your daily token budget is used up (1,100 of 1,000 tokens), so I can't ask the model right now. It resets in 12 hours; an administrator can raise it.",
    );
    // Another user still gets answers; nobody is alerted twice.
    expect((await ask(adapter, adapter.message('q4', { thread: 'D', user: { id: 'U2' } })))!.source).toBe('model');
    clock += 12 * 3_600_000;
    expect((await ask(adapter, adapter.message('q5', { thread: 'E' })))!.source).toBe('model');
    expect(alerts).toHaveLength(2);
  });

  it('applies channel and workspace token budgets, counted across instances', async () => {
    const settings = { budgets: { dailyTokens: { perChannel: 150, perWorkspace: 1_000 } } };
    const one = rig({ store, fake, settings, deps: { now } });
    const two = rig({ store: second ?? store, fake, settings, deps: { now } });
    fake.script({ text: 'a', usage: { prompt_tokens: 100, completion_tokens: 60 } });
    await one.ask(adapter, adapter.message('q1', { thread: 'A' }));
    const m = adapter.message('q2', { thread: 'B', user: { id: 'U2' } });
    expect((await two.ask(adapter, m))!.source).toBe('budget_spent');
    expect(adapter.noted(m.id)).toMatch(/^This channel's daily token budget is used up \(160 of 150 tokens\)/);
    expect((await two.ask(adapter, adapter.message('q3', { thread: 'C', channel: 'C2' })))!.source).toBe('model');
  });

  it('keeps a monthly cost budget from the price table and tells admins once at 80% and 100%', async () => {
    const texts: string[] = [];
    const { ask } = rig({
      store,
      fake,
      settings: { budgets: { monthlyCost: 1 } },
      // $10 per million prompt tokens, $30 per million completion tokens.
      deps: { now, priceOf: (model) => (model === 'fake-model' ? { inPerM: 10, outPerM: 30 } : undefined), notifyAdmins: (t) => void texts.push(t) },
    });
    // 50,000 × $10/M + 10,000 × $30/M = $0.80
    fake.script(
      { text: 'a', usage: { prompt_tokens: 50_000, completion_tokens: 10_000 } },
      { text: 'b', usage: { prompt_tokens: 20_000, completion_tokens: 0 } },
    );
    await ask(adapter, adapter.message('q1', { thread: 'A' }));
    await ask(adapter, adapter.message('q2', { thread: 'B', user: { id: 'U9' }, channel: 'C9' }));
    expect(texts).toEqual([
      'Parley budget alert: the monthly cost budget for 2026-11 has reached 80% ($0.80 of $1.00).',
      'Parley budget alert: the monthly cost budget for 2026-11 has reached 100% ($1.00 of $1.00).',
    ]);
    const m = adapter.message('q3', { thread: 'C', user: { id: 'U7' } });
    expect((await ask(adapter, m))!.source).toBe('budget_spent');
    // Noon on 25 November: the month ends in 5 days and 12 hours.
    expect(adapter.noted(m.id)).toBe(
      "The monthly cost budget is used up ($1.00 of $1.00), so I can't ask the model right now. It resets in 5 days 12 hours; an administrator can raise it.",
    );
    expect(fake.chatRequests).toHaveLength(2);
  });
});

describe('when the store fails', () => {
  it('still answers (limits are skipped and logged), while redaction still applies', async () => {
    const store = await openStore('memory://');
    const broken = Object.assign(Object.create(store) as Store, {
      hitWindow: () => Promise.reject(new Error('store down')),
      increment: () => Promise.reject(new Error('store down')),
    });
    const adapter = new WhisperingAdapter();
    fake.requests.length = 0;
    const { ask } = rig({ store: broken, fake, settings: { budgets: { dailyTokens: { perUser: 10 } } } });
    const r = await ask(adapter, adapter.message('my key AKIAIOSFODNN7EXAMPLE'));
    expect(r!.source).toBe('model');
    expect(fake.chatRequests.at(-1)!.body.messages.at(-1).content).toBe('my key [AWS key removed]');
    await store.close();
  });
});
