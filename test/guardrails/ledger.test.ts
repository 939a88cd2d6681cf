import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { conversationKey } from '../../src/kernel/types.js';
import { dayOf, UsageLedger, type LedgerRow } from '../../src/guardrails/ledger.js';
import { ConsoleAdapter } from '../../src/platforms/console/adapter.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { rig, WhisperingAdapter } from './harness.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());

const price = (model: string) => (model === 'fake-model' ? { inPerM: 2, outPerM: 8 } : undefined);
const slash = (text: string) => ({ trigger: 'slash_command' as const, command: 'parley', thread: `cmd-${text}-${Math.random()}` });

describe.each([
  { name: 'memory', open: () => openStore('memory://') },
  { name: 'redis', open: () => openStore(REDIS_URL, { keyPrefix: uniquePrefix('ledger') }) },
])('usage ledger and privacy on the $name store', ({ open }) => {
  let store: Store;
  let adapter: WhisperingAdapter;
  let clock: number;
  const now = () => clock;
  beforeEach(async () => {
    store = await open();
    adapter = new WhisperingAdapter();
    fake.requests.length = 0;
    (fake as unknown as { scripts: unknown[] }).scripts.length = 0;
    clock = Date.UTC(2026, 10, 25, 9, 0, 0);
  });
  afterEach(() => store.close());

  it('records every model call: who, where, profile, model, tokens, cost, latency and outcome', async () => {
    const { ask, guardrails } = rig({ store, fake, deps: { now, priceOf: price } });
    fake.script({ text: 'fine', usage: { prompt_tokens: 1_000, completion_tokens: 500 } }, { status: 500 });
    await ask(adapter, adapter.message('q1', { thread: 'A' }));
    await ask(adapter, adapter.message('q2', { thread: 'B' }));
    // Declined turns make no model call and are not recorded.
    await ask(adapter, adapter.message('', { thread: 'C' }));
    const rows = await guardrails.ledger.rowsOf('memory:U1', 1, Date.now());
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      platform: 'memory',
      workspace: 'W1',
      channel: 'C1',
      user: 'U1',
      profile: 'default',
      model: 'fake-model',
      promptTokens: 1_000,
      completionTokens: 500,
      costMicros: 1_000 * 2 + 500 * 8,
      outcome: 'ok',
    });
    expect(rows[0]!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(rows[1]).toMatchObject({ model: 'fake-model', promptTokens: 0, completionTokens: 0, outcome: 'llm_server_error' });
    expect(await guardrails.ledger.aggregate(dayOf(rows[0]!.at), 'default', 'fake-model')).toEqual({ calls: 2, prompt: 1_000, completion: 500, cost: 6_000 });
  });

  it('/parley usage shows the caller their own usage and what is left of each budget', async () => {
    const { ask } = rig({
      store,
      fake,
      settings: { budgets: { dailyTokens: { perUser: 10_000, perChannel: 50_000 } } },
      deps: { now: () => Date.now(), priceOf: price },
    });
    fake.script({ text: 'a', usage: { prompt_tokens: 1_200, completion_tokens: 34 } }, { text: 'b', usage: { prompt_tokens: 99_000, completion_tokens: 1 } });
    await ask(adapter, adapter.message('q1', { thread: 'A' }));
    await ask(adapter, adapter.message('q2', { thread: 'B', user: { id: 'U2' }, channel: 'C2' }));
    const m = adapter.message('usage', slash('usage'));
    const r = await ask(adapter, m);
    expect(r!.source).toBe('command');
    expect(fake.chatRequests).toHaveLength(2);
    const text = adapter.shown(m.id);
    expect(text).toMatch(/^Your usage:\n• Today: 1,234 tokens in 1 question, \$0\.0027\n• This month: 1,234 tokens in 1 question, \$0\.0027\nBudgets:\n/);
    expect(text).toMatch(/• Your daily token budget: 1,234 of 10,000 tokens used, 8,766 tokens left \(resets in .+\)/);
    expect(text).toMatch(/• This channel's daily token budget: 1,234 of 50,000 tokens used, 48,766 tokens left/);
  });

  it('/parley usage @user shows another user’s usage to admins only', async () => {
    const { ask } = rig({ store, fake, settings: { access: { admins: ['U-admin'] } } });
    fake.script({ text: 'a', usage: { prompt_tokens: 40, completion_tokens: 2 } });
    await ask(adapter, adapter.message('q', { thread: 'A', user: { id: 'U2' } }));
    const asAdmin = adapter.message('usage <@U2|bob>', { ...slash('usage'), user: { id: 'U-admin' } });
    await ask(adapter, asAdmin);
    expect(adapter.shown(asAdmin.id)).toMatch(/^Usage of U2:\n• Today: 42 tokens in 1 question\n/);
    const asUser = adapter.message('usage U2', { ...slash('usage'), user: { id: 'U3' } });
    await ask(adapter, asUser);
    expect(adapter.shown(asUser.id)).toBe("Only Parley administrators can see someone else's usage. `/parley usage` shows yours.");
  });

  it('/parley forget deletes the caller’s turns and ledger rows, keeps others’ and the identity-free totals', async () => {
    const { ask, history, guardrails } = rig({ store, fake, deps: { now: () => Date.now(), priceOf: price } });
    const shared = { thread: 'shared' };
    const a1 = adapter.message('alice asks', { ...shared, user: { id: 'alice' } });
    await ask(adapter, a1);
    await ask(adapter, adapter.message('bob asks', { ...shared, user: { id: 'bob' } }));
    await ask(adapter, adapter.message('alice again', { ...shared, user: { id: 'alice' } }));
    const dm = adapter.message('alice in a DM', { channel: 'D1', thread: 'dm', trigger: 'direct_message', user: { id: 'alice' } });
    await ask(adapter, dm);
    const day = dayOf(Date.now());
    const totalsBefore = await guardrails.ledger.aggregate(day, 'default', 'fake-model');

    const cmd = adapter.message('forget', { ...slash('forget'), user: { id: 'alice' } });
    await ask(adapter, cmd);
    expect(adapter.shown(cmd.id)).toMatch(/^Done: I deleted your messages \(and my answers to them\) from 2 conversations and 3 usage records\./);

    const left = await history.load(conversationKey(a1));
    expect(left.map((t) => t.content)).toEqual(['bob asks', 'You asked: bob asks']);
    expect(await history.load(conversationKey(dm))).toEqual([]);
    expect(await guardrails.ledger.rowsOf('memory:alice', 2)).toEqual([]);
    expect(await guardrails.ledger.rowsOf('memory:bob', 2)).toHaveLength(1);
    expect(await guardrails.ledger.aggregate(day, 'default', 'fake-model')).toEqual(totalsBefore);
    // The command itself is not stored anywhere.
    expect(await history.load(conversationKey(cmd))).toEqual([]);

    // New conversations after forgetting are indexed again.
    const later = adapter.message('alice is back', { thread: 'new', user: { id: 'alice' } });
    await ask(adapter, later);
    const again = adapter.message('forget', { ...slash('forget-2'), user: { id: 'alice' } });
    await ask(adapter, again);
    expect(adapter.shown(again.id)).toMatch(/from 1 conversation and 1 usage record\./);
    expect(await history.load(conversationKey(later))).toEqual([]);
  });

  it('expires ledger rows after the retention period', async () => {
    const ledger = new UsageLedger(store);
    const row: LedgerRow = {
      at: Date.now(),
      platform: 'memory',
      workspace: 'W1',
      channel: 'C1',
      user: 'U1',
      profile: 'p',
      model: 'm',
      promptTokens: 1,
      completionTokens: 1,
      latencyMs: 1,
      outcome: 'ok',
    };
    await ledger.record(row, 80);
    expect(await ledger.rowsOf('memory:U1', 1)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await ledger.rowsOf('memory:U1', 1)).toEqual([]);
  });

  it('answers `/parley` without a known sub-command with the list of commands', async () => {
    const { ask } = rig({ store, fake });
    const m = adapter.message('', slash(''));
    await ask(adapter, m);
    expect(adapter.shown(m.id)).toMatch(/^Parley commands:\n• `\/parley usage`/);
    expect(fake.chatRequests).toHaveLength(0);
  });

  it('works in the console: `/parley usage` typed as a line', async () => {
    let out = '';
    const sink = new Writable({ write: (chunk, _enc, cb) => ((out += String(chunk)), cb()) });
    const console_ = new ConsoleAdapter({ output: sink, thread: 'cli' });
    const { ask } = rig({ store, fake });
    await ask(console_, console_.message('hello'));
    await ask(console_, console_.message('/parley usage'));
    expect(fake.chatRequests).toHaveLength(1);
    expect(out).toMatch(/Your usage:\n• Today: \d+ tokens in 1 question\n/);
  });
});
