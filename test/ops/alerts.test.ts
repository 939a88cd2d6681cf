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
