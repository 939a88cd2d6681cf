import type { TurnResult } from '../../src/engine/pipeline.js';
import { conversationKey, type IncomingMessage } from '../../src/kernel/types.js';
import type { SupportAnalytics } from '../../src/analytics/support-analytics.js';

const DAY = 86_400_000;

/** A finished turn as the engine reports it, `daysAgo` days before `now`. */
export function seededTurn(o: {
  id: string;
  daysAgo: number;
  now: number;
  text: string;
  source: string;
  profile?: string;
  firstVisibleMs?: number;
  usage?: [number, number];
}): TurnResult {
  const at = o.now - o.daysAgo * DAY;
  const message: IncomingMessage = {
    platform: 'slack',
    workspace: 'T1',
    channel: 'C-HELP',
    thread: o.id,
    id: o.id,
    user: { id: `U-${o.id}` },
    text: o.text,
    attachments: [],
    trigger: 'mention',
    receivedAt: at,
  };
  return {
    conversation: conversationKey(message),
    message,
    profile: o.profile ?? 'support',
    question: o.text,
    text: 'answer',
    source: o.source,
    citations: [],
    model: o.usage ? 'gpt-test' : undefined,
    usage: o.usage ? { promptTokens: o.usage[0], completionTokens: o.usage[1] } : undefined,
    startedAt: at,
    firstVisibleAt: o.firstVisibleMs === undefined ? undefined : at + o.firstVisibleMs,
    finishedAt: at + 1_000,
    updates: 1,
  };
}

/**
 * A week of support: per day, model answers with latency and tokens, an FAQ answer, and a
 * declined "export to PDF" question; votes and a handoff on day 1. Returns the expected totals.
 */
export async function seedWeek(analytics: SupportAnalytics, now: number): Promise<{ questions: number; declined: number; handoffs: number }> {
  let questions = 0;
  for (let day = 0; day < 7; day++) {
    for (let i = 0; i < day + 2; i++) {
      const t = seededTurn({
        id: `m${day}-${i}`,
        daysAgo: day,
        now,
        text: `question ${day}-${i}`,
        source: 'model',
        firstVisibleMs: 300 + 100 * i,
        usage: [1_000, 200],
      });
      await analytics.recordTurn(t);
      if (i === 0) await analytics.recordVote(analytics.placeOf(t), 'up');
      if (i === 1 && day === 1) await analytics.recordVote(analytics.placeOf(t), 'down');
      questions++;
    }
    await analytics.recordTurn(seededTurn({ id: `f${day}`, daysAgo: day, now, text: 'How do I reset my password?', source: 'faq', firstVisibleMs: 150 }));
    await analytics.recordTurn(
      seededTurn({ id: `d${day}`, daysAgo: day, now, text: 'Can I export invoices to PDF?', source: 'declined', firstVisibleMs: 200 }),
    );
    questions += 2;
  }
  const h = seededTurn({ id: 'h1', daysAgo: 1, now, text: 'I was charged twice', source: 'model', usage: [500, 100], firstVisibleMs: 900 });
  await analytics.recordTurn(h);
  await analytics.recordHandoff(analytics.placeOf(h));
  questions++;
  return { questions, declined: 7, handoffs: 1 };
}
