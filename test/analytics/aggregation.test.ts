import { describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { SupportAnalytics, normalizeQuestion } from '../../src/analytics/support-analytics.js';
import { buildReport, formatCsv, formatSummary, parseSince } from '../../src/analytics/report.js';
import { addToSketch, emptySketch, mergeSketches, quantile, RELATIVE_ACCURACY } from '../../src/analytics/sketch.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import { conversationKey, type IncomingMessage } from '../../src/kernel/types.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-20T10:00:00Z');

function turn(o: {
  id: string;
  thread?: string;
  text: string;
  source: string;
  profile?: string;
  channel?: string;
  user?: string;
  at?: number;
  firstVisibleMs?: number;
  usage?: [number, number];
  model?: string;
}): TurnResult {
  const at = o.at ?? T0;
  const message: IncomingMessage = {
    platform: 'discord',
    workspace: 'G1',
    channel: o.channel ?? 'C1',
    thread: o.thread ?? o.id,
    id: o.id,
    user: { id: o.user ?? 'U1', name: 'alice' },
    text: o.text,
    attachments: [],
    trigger: 'mention',
    receivedAt: at,
  };
  return {
    conversation: conversationKey(message),
    message,
    profile: o.profile ?? 'default',
    question: o.text,
    text: 'answer',
    source: o.source,
    citations: [],
    model: o.model ?? (o.usage ? 'gpt-test' : undefined),
    usage: o.usage ? { promptTokens: o.usage[0], completionTokens: o.usage[1] } : undefined,
    startedAt: at,
    firstVisibleAt: o.firstVisibleMs === undefined ? undefined : at + o.firstVisibleMs,
    finishedAt: at + 2_000,
    updates: 1,
  };
}

async function setup(now = T0 + 3_600_000) {
  const store = await openStore('memory://');
  let clock = now;
  const analytics = new SupportAnalytics(store, {
    quietPeriodMs: DAY,
    now: () => clock,
    priceOf: (profile) => (profile === 'billing' ? { inputPerMillion: 2, outputPerMillion: 8 } : undefined),
  });
  return {
    analytics,
    setNow: (t: number) => (clock = t),
    report: (q: Partial<Parameters<typeof buildReport>[1]> = {}) => buildReport(analytics, { since: T0 - 2 * DAY, until: clock, ...q }),
  };
}

describe('support analytics', () => {
  it('counts questions by source, tokens and cost per profile, channel and day', async () => {
    const { analytics, report } = await setup();
    await analytics.recordTurn(turn({ id: 'm1', text: 'How do I pay?', source: 'model', profile: 'billing', usage: [1_000, 500], firstVisibleMs: 400 }));
    await analytics.recordTurn(turn({ id: 'm2', text: 'Refund?', source: 'faq', profile: 'billing', channel: 'C2' }));
    await analytics.recordTurn(turn({ id: 'm3', text: 'Where are docs?', source: 'knowledge' }));
    await analytics.recordTurn(turn({ id: 'm4', text: 'What is the meaning of life?', source: 'declined', at: T0 - DAY }));
    await analytics.recordTurn(turn({ id: 'm5', text: '/parley usage', source: 'command' }));
    await analytics.recordTurn(turn({ id: 'm6', text: 'quiet', source: 'silent' }));

    const r = await report();
    expect(r.totals.questions).toBe(4);
    expect(r.totals.sources).toEqual({ model: 1, faq: 1, knowledge: 1, declined: 1 });
    expect(r.totals.promptTokens).toBe(1_000);
    expect(r.totals.completionTokens).toBe(500);
    // 1,000 × $2/M + 500 × $8/M = $0.006
    expect(r.totals.costUsd).toBeCloseTo(0.006, 10);
    expect(r.days.map((d) => [d.day, d.questions])).toEqual([
      ['2026-11-18', 0],
      ['2026-11-19', 1],
      ['2026-11-20', 3],
    ]);
    expect(Object.fromEntries(r.profiles.map((p) => [p.profile, p.questions]))).toEqual({ billing: 2, default: 2 });
    expect(r.channels.find((c) => c.channel === 'discord:C2')?.questions).toBe(1);
    const billing = await report({ profile: 'billing' });
    expect(billing.totals.questions).toBe(2);
    expect((await report({ platform: 'slack' })).totals.questions).toBe(0);
  });

  it('tracks 👍 ratio and resolution: 👍/thanks resolve, 👎/handoff do not, a quiet thread is assumed resolved', async () => {
    const { analytics, report, setNow } = await setup();
    const threads = ['a', 'b', 'c', 'd', 'e'].map((id) => turn({ id, text: `question ${id}`, source: 'model' }));
    for (const t of threads) await analytics.recordTurn(t);
    const place = (t: TurnResult) => analytics.placeOf(t);

    await analytics.recordVote(place(threads[0]!), 'up'); // a: resolved
    await analytics.recordVote(place(threads[1]!), 'up');
    await analytics.recordVote(place(threads[1]!), 'down', 'up'); // b: changed to 👎 → unresolved, one vote
    await analytics.recordHandoff(place(threads[2]!)); // c: unresolved
    await analytics.recordThanks(threads[3]!.conversation, 'someone-else'); // d: not the asker: still open
    await analytics.recordThanks(threads[3]!.conversation, 'U1'); // d: resolved
    // e: open; counted once its quiet period has passed.

    let r = await report();
    expect(r.totals).toMatchObject({ up: 1, down: 1, upRatio: 0.5, handoffs: 1, threads: 5, resolved: 2, unresolved: 2, assumedResolved: 0 });
    expect(r.totals.resolutionRate).toBeCloseTo(0.5);

    setNow(T0 + 2 * DAY);
    r = await report();
    expect(r.totals).toMatchObject({ resolved: 2, unresolved: 2, assumedResolved: 1 });
    expect(r.totals.resolutionRate).toBeCloseTo(3 / 5);
    // A thanks after a 👎 does not override it.
    await analytics.recordThanks(threads[1]!.conversation, 'U1');
    expect((await report()).totals.unresolved).toBe(2);
  });

  it('a follow-up keeps a thread open and a thanks is not counted as a question', async () => {
    const { analytics, report } = await setup();
    await analytics.recordTurn(turn({ id: 'q1', text: 'first', source: 'model' }));
    await analytics.recordTurn(turn({ id: 'q2', thread: 'q1', text: 'second', source: 'model' }), {});
    await analytics.recordTurn(turn({ id: 'q3', thread: 'q1', text: 'thanks!', source: 'model' }), { isThanks: true });
    const r = await report();
    expect(r.totals.questions).toBe(2);
    expect(r.totals.threads).toBe(1);
  });

  it('lists the most frequent unanswered, 👎 or handed-off questions, normalized', async () => {
    const { analytics, report } = await setup();
    await analytics.recordTurn(turn({ id: 'x1', text: 'How do I export to CSV?', source: 'declined' }));
    await analytics.recordTurn(turn({ id: 'x2', text: 'how do i export to csv', source: 'declined' }));
    await analytics.recordTurn(turn({ id: 'x3', text: 'How do I export to CSV!!', source: 'model' }));
    const y = turn({ id: 'y1', text: 'Why was I charged twice?', source: 'model' });
    await analytics.recordTurn(y);
    await analytics.recordVote(analytics.placeOf(y), 'down');
    await analytics.recordTurn(turn({ id: 'z1', text: 'Answered fine', source: 'model' }));

    const r = await report();
    expect(r.unanswered.map((u) => [u.question, u.asked, u.unanswered, u.down])).toEqual([
      ['How do I export to CSV?', 3, 2, 0],
      ['Why was I charged twice?', 1, 0, 1],
    ]);
    expect(normalizeQuestion('  How do I <@123> export… to CSV?! ')).toBe('how do i export to csv');
    expect(formatSummary(r)).toContain('1. How do I export to CSV? (asked 3×, unanswered 2');
    const csv = formatCsv(r).trim().split('\n');
    expect(csv[0]).toBe(
      'day,questions,model,faq,knowledge,declined,handoffs,up,down,up_ratio,resolution_rate,p50_ms,p95_ms,tokens,cost_usd,groundedness,low_grounded',
    );
    expect(csv.at(-1)).toMatch(/^total,5,3,0,0,2,0,0,1,0\.000,/);
  });

  it("keeps a day's 300 most asked questions, dropping the least asked, and writes the list behind the turns", async () => {
    const store = await openStore('memory://');
    const analytics = new SupportAnalytics(store, { quietPeriodMs: DAY, now: () => T0 });
    const kv = store.namespace<Record<string, { question: string; asked: number }>>('analytics');
    const key = `q:${new Date(T0).toISOString().slice(0, 10)}`;
    await analytics.recordTurn(turn({ id: 'p1', text: 'Popular question', source: 'model' }));
    await analytics.recordTurn(turn({ id: 'p2', text: 'popular question?', source: 'model' }));
    // Written behind the turns (this process owns the store), without anyone asking for it…
    await vi.waitFor(async () => expect(Object.keys((await kv.get(key)) ?? {})).toHaveLength(1), { timeout: 5_000, interval: 50 });
    for (let i = 0; i < 300; i++) await analytics.recordTurn(turn({ id: `q${i}`, text: `Question number ${i}`, source: 'model' }));
    // …and at once by idle(), as every report and a stop wait for it.
    await analytics.idle();
    const stored = Object.values((await kv.get(key))!);
    expect(stored).toHaveLength(300);
    // The first of the least asked left each time one more came: "Question number 0".
    expect(stored.map((t) => t.question)).not.toContain('Question number 0');
    expect(stored.find((t) => t.question === 'Popular question')?.asked).toBe(2);
    expect(stored.map((t) => t.question)).toContain('Question number 299');
    await store.close();
  });

  it('time to first visible text: p50/p95 from a bounded, mergeable sketch within its accuracy', async () => {
    const { analytics, report } = await setup();
    const values = Array.from({ length: 200 }, (_, i) => (i + 1) * 25); // 25 ms … 5 s
    for (const [i, v] of values.entries())
      await analytics.recordTurn(turn({ id: `l${i}`, text: `q${i}`, source: 'model', channel: i % 2 ? 'C1' : 'C2', firstVisibleMs: v }));
    const r = await report();
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1]!;
    expect(Math.abs(r.totals.firstVisibleP50Ms! - exact(0.5)) / exact(0.5)).toBeLessThanOrEqual(RELATIVE_ACCURACY);
    expect(Math.abs(r.totals.firstVisibleP95Ms! - exact(0.95)) / exact(0.95)).toBeLessThanOrEqual(RELATIVE_ACCURACY);

    const a = emptySketch();
    const b = emptySketch();
    for (const v of values) addToSketch(v % 2 ? a : b, v);
    const merged = mergeSketches(mergeSketches(emptySketch(), a), b);
    expect(merged.count).toBe(200);
    expect(Object.keys(merged.bins).length).toBeLessThan(200);
    expect(quantile(merged, 0.5)).toBe(r.totals.firstVisibleP50Ms);
  });

  it('parses --since', () => {
    expect(parseSince('7d', T0)).toBe(T0 - 7 * DAY);
    expect(parseSince('24h', T0)).toBe(T0 - DAY);
    expect(parseSince('2026-11-01', T0)).toBe(Date.parse('2026-11-01'));
    expect(() => parseSince('last week', T0)).toThrow(/expected a duration/);
    // No flag in the message: the CLI says `--since: `, the HTTP endpoints `since: `.
    expect(() => parseSince('last week', T0)).toThrow(/^expected a duration like 7d, 24h, 2w or a date like 2026-11-01 \(got "last week"\)$/);
  });
});
