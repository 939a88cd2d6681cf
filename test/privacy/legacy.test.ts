import { describe, expect, it } from 'vitest';
import { DELETED_QUESTION, dayOf, normalizeQuestion, type TopQuestion } from '../../src/analytics/support-analytics.js';
import type { Settings } from '../../src/config/settings.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { conversationKey } from '../../src/kernel/types.js';
import type { AnswerRecord } from '../../src/analytics/answers.js';
import { createSupport } from '../../src/support/index.js';
import { UsageLedger } from '../../src/guardrails/ledger.js';
import { Forgetter } from '../../src/privacy/forget.js';
import { PrivacyIndex } from '../../src/store/person-index.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore } from '../../src/store/store.js';

/** Data written before the privacy index (no index entries, question lists keyed by their text) is still found and deleted. */
describe('deleting data written before the privacy index', () => {
  it('finds legacy answer records and question texts by scanning, and keeps the counts', async () => {
    const store = await openStore('memory://');
    const history = new HistoryStore(store, { maxTurns: 10 });
    const support = createSupport({
      store,
      history,
      log: silentLogger(),
      profile: () => undefined,
      quietPeriodMs: 86_400_000,
      isAdmin: () => false,
      settings: () => ({ review: { retentionDays: 90 } }) as unknown as Settings,
      knowledge: () => undefined,
    });
    const ledger = new UsageLedger(store);
    const forgetter = new Forgetter({
      store,
      history,
      ledger,
      analytics: support.analytics,
      review: support.review,
      ledgerRetentionDays: () => 90,
      log: silentLogger(),
    });
    const now = Date.now();
    const day = dayOf(now);
    const conversation = conversationKey({ platform: 'slack', workspace: 'T1', channel: 'C1', thread: '1.1' });
    const question = 'My name is Old Legacy, where is invoice 77?';
    await history.append(conversation, { role: 'user', content: question, user: 'U1', at: now }, { role: 'assistant', content: 'Under Billing.', at: now });
    await ledger.noteConversation('slack:U1', conversation, undefined);
    const record = {
      platform: 'slack',
      answerId: '1.1',
      workspace: 'T1',
      thread: '1.1',
      conversation,
      day,
      profile: 'default',
      channel: 'slack:C1',
      question,
      asker: { id: 'U1' },
      source: 'model',
      at: now,
      text: 'Under Billing.',
    } satisfies AnswerRecord;
    await store.namespace('answers').set('slack:1.1', record);
    const legacyList: Record<string, TopQuestion> = {
      [`default|${normalizeQuestion(question)}`]: { question, profile: 'default', asked: 2, unanswered: 1, down: 0, handoffs: 0 },
      'default|how do i export': { question: 'How do I export?', profile: 'default', asked: 1, unanswered: 1, down: 0, handoffs: 0 },
    };
    await store.namespace('analytics').set(`q:${day}`, legacyList);

    const report = await forgetter.forgetPerson('slack', 'U1');
    expect(report).toMatchObject({ conversations: 1, records: 1, questionTexts: 1 });
    expect(await store.namespace('answers').get('slack:1.1')).toBeUndefined();
    expect(await history.load(conversation)).toEqual([]);
    const top = await support.analytics.topQuestions(now, now);
    expect(top.map((t) => [t.question, t.asked]).sort()).toEqual(
      [
        [DELETED_QUESTION, 2],
        ['How do I export?', 1],
      ].sort(),
    );
    await store.close();
  });

  it('records that a store was indexed from its first question, so deletions there never scan', async () => {
    const fresh = await openStore('memory://');
    const index = new PrivacyIndex(fresh);
    expect(await index.indexedSince()).toBeUndefined();
    await index.note('slack:U1', 'slack:T1:C1:1.1', [{ ns: 'answers', key: 'slack:1.1', ttlMs: 1_000 }]);
    expect(await index.indexedSince()).toBe(0);

    const upgraded = await openStore('memory://');
    await upgraded.namespace('analytics').set('days:2026-01-01', []);
    const before = Date.now();
    await new PrivacyIndex(upgraded).note('slack:U1', 'slack:T1:C1:1.1', [{ ns: 'answers', key: 'slack:1.1', ttlMs: 1_000 }]);
    expect(await new PrivacyIndex(upgraded).indexedSince()).toBeGreaterThanOrEqual(before);
    await Promise.all([fresh.close(), upgraded.close()]);
  });
});
