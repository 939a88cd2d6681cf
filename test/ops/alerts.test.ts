import { describe, expect, it } from 'vitest';
import { AlertMonitor, percentile } from '../../src/ops/alerts.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { conversationKey } from '../../src/kernel/types.js';

const message = {
  platform: 'slack',
  workspace: 'T',
  channel: 'C',
  thread: '1',
  id: '1',
  user: { id: 'U' },
  text: '',
  attachments: [],
  trigger: 'mention' as const,
  receivedAt: 0,
};

function turn(o: { at: number; failed?: boolean; latencyMs?: number }): TurnResult {
  return {
    conversation: conversationKey(message),
    message: { ...message, receivedAt: o.at },
    profile: 'default',
    question: 'q',
    text: 't',
    source: o.failed ? 'error' : 'model',
    citations: [],
    model: o.failed ? undefined : 'm',
    error: o.failed ? 'llm_server_error' : undefined,
    startedAt: o.at,
    finishedAt: o.at + (o.latencyMs ?? 1000),
    updates: 1,
  };
}

function monitor(now: { t: number }) {
  const posted: string[] = [];
  const m = new AlertMonitor({
    windowMs: 10 * 60_000,
    modelErrorRate: 0.3,
    minCalls: 5,
    p99LatencyMs: 20_000,
    log: silentLogger(),
    notify: async (text) => void posted.push(text),
    now: () => now.t,
  });
  return { m, posted };
}

describe('AlertMonitor', () => {
  it('posts once when the model error rate passes the threshold, and once on recovery', async () => {
    const now = { t: 0 };
    const { m, posted } = monitor(now);
    for (let i = 0; i < 6; i++) await m.record(turn({ at: (now.t += 1000) }));
    expect(posted).toEqual([]);
    // 2 failures of 8 calls = 25%: not yet. The third makes 3 of 9 = 33% > 30%.
    for (let i = 0; i < 2; i++) await m.record(turn({ at: (now.t += 1000), failed: true }));
    expect(posted).toEqual([]);
    await m.record(turn({ at: (now.t += 1000), failed: true }));
    expect(posted).toEqual(['⚠️ Parley alert: 33% of model calls failed in the last 10 min (3 of 9; threshold 30%).']);
    // Still failing: no repeat.
    for (let i = 0; i < 5; i++) await m.record(turn({ at: (now.t += 1000), failed: true }));
    expect(posted).toHaveLength(1);
    expect(m.active).toEqual(['model_errors']);
    // Eleven minutes later, only successes in the window.
    now.t += 11 * 60_000;
    for (let i = 0; i < 5; i++) await m.record(turn({ at: (now.t += 1000) }));
    expect(posted).toHaveLength(2);
    expect(posted[1]).toMatch(/^✅ Parley recovered: model calls are succeeding again/);
    expect(m.active).toEqual([]);
  });

  it('does not alert on too few calls', async () => {
    const now = { t: 0 };
    const { m, posted } = monitor(now);
    for (let i = 0; i < 4; i++) await m.record(turn({ at: (now.t += 1000), failed: true }));
    expect(posted).toEqual([]);
  });

  it('alerts on the p99 reply latency, and recovers when the window empties', async () => {
    const now = { t: 0 };
    const { m, posted } = monitor(now);
    for (let i = 0; i < 5; i++) await m.record(turn({ at: (now.t += 1000), latencyMs: 30_000 }));
    expect(posted).toEqual(['⚠️ Parley alert: p99 reply time is 30.0 s over the last 10 min (bound 20.0 s).']);
    now.t += 11 * 60_000;
    await m.evaluate();
    expect(posted[1]).toBe('✅ Parley recovered: p99 reply time is 0.0 s (bound 20.0 s).');
  });

  it('counts exactly over thousands of turns while the window slides', async () => {
    const now = { t: 0 };
    const { m, posted } = monitor(now);
    const seen: { at: number; failed: boolean }[] = [];
    const record = async (failed: boolean) => {
      now.t += 1000;
      seen.push({ at: now.t, failed });
      await m.record(turn({ at: now.t, failed }));
    };
    // 3,000 successes a second apart: the 10-minute window keeps sliding (samples leave as others come).
    for (let i = 0; i < 3000; i++) await record(false);
    expect(posted).toEqual([]);
    // Then failures, until their share of the window passes 30 %.
    while (!posted.length) await record(true);
    const inWindow = seen.filter((s) => s.at >= now.t - 10 * 60_000);
    const failed = inWindow.filter((s) => s.failed).length;
    expect(posted[0]).toBe(
      `⚠️ Parley alert: ${Math.round((failed / inWindow.length) * 100)}% of model calls failed in the last 10 min (${failed} of ${inWindow.length}; threshold 30%).`,
    );
    expect(failed / inWindow.length).toBeGreaterThan(0.3);
    expect((failed - 1) / inWindow.length).toBeLessThanOrEqual(0.3);
    // A burst of 5,000 turns within the window, then only successes once it has passed.
    for (let i = 0; i < 5000; i++) await m.record(turn({ at: now.t, failed: i % 2 === 0 }));
    now.t += 11 * 60_000;
    await record(false);
    // Every one of the 8,000-odd samples left the counts: the window holds the one success.
    expect(posted[1]).toBe('✅ Parley recovered: model calls are succeeding again (0 of 1 failed in the last 10 min).');
  });

  it('computes nearest-rank percentiles', () => {
    expect(percentile([], 0.99)).toBe(0);
    expect(percentile([5, 1, 3], 0.5)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.99,
      ),
    ).toBe(99);
  });
});
