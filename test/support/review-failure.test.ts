import { describe, expect, it } from 'vitest';
import { buildReport } from '../../src/analytics/report.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import { conversationKey, type IncomingMessage } from '../../src/kernel/types.js';
import { createLogger } from '../../src/kernel/logger.js';
import { createSupport, FEEDBACK_TEXTS } from '../../src/support/index.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore } from '../../src/store/store.js';

/**
 * The review queue comes second to the support desk's own work: when it fails (here its
 * settings cannot be read), the failure is logged and the turn's figures, the 👎 and its
 * thank-you still count.
 */
describe('support desk when the review queue fails', () => {
  it('logs the failure and still records the answer, the figures and the vote', async () => {
    const store = await openStore('memory://');
    const logs: { msg: string; level: number }[] = [];
    const log = createLogger({ level: 'info', content: false, destination: { write: (s: string) => void logs.push(JSON.parse(s)) } });
    const support = createSupport({
      store,
      history: new HistoryStore(store, { maxTurns: 10 }),
      log,
      profile: () => undefined,
      quietPeriodMs: 86_400_000,
      isAdmin: () => false,
      settings: () => {
        throw new Error('settings unavailable');
      },
      knowledge: () => undefined,
    });
    const now = Date.now();
    const message: IncomingMessage = {
      platform: 'slack',
      workspace: 'T1',
      channel: 'C1',
      thread: '1.1',
      id: '1.1',
      user: { id: 'U1' },
      text: 'How long are backups kept?',
      attachments: [],
      trigger: 'mention',
      receivedAt: now,
    };
    const turn: TurnResult = {
      conversation: conversationKey(message),
      message,
      profile: 'default',
      question: message.text,
      text: 'Backups are kept for 90 days.',
      source: 'model',
      citations: [],
      startedAt: now,
      finishedAt: now + 1_000,
      updates: 1,
      grounding: { score: 0, passages: [], unsupported: [{ text: 'Backups are kept for 90 days.', inventedNumbers: ['90'] }] },
    };
    await support.desk.onTurn(turn);
    const said: string[] = [];
    await support.desk.feedback({ platform: 'slack', answerId: '1.1', kind: 'down', user: { id: 'U2' }, at: now, respond: async (t) => void said.push(t) });
    await support.desk.idle();

    expect(said).toEqual([FEEDBACK_TEXTS.down]);
    const report = await buildReport(support.analytics, { since: now - 60_000, until: now + 60_000 });
    expect(report.totals).toMatchObject({ questions: 1, down: 1, groundedAnswers: 1 });
    expect(await support.desk.answers.get('slack', '1.1')).toMatchObject({ text: 'Backups are kept for 90 days.' });
    const errors = logs.filter((l) => l.level >= 50).map((l) => l.msg);
    expect(errors).toEqual(['queueing a weak answer for review failed', 'queueing a 👎 for review failed']);
    await store.close();
  });
});
