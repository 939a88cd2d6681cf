import type { Feature } from '../engine/feature.js';
import type { ConversationKey, Turn } from '../kernel/types.js';
import type { Logger } from '../kernel/logger.js';
import type { Store } from '../store/store.js';
import type { HistoryStore } from '../store/history.js';
import type { UsageLedger } from '../guardrails/ledger.js';
import { ANALYTICS_RETENTION_MS, daysBetween, normalizeQuestion, type SupportAnalytics } from '../analytics/support-analytics.js';
import { ANSWER_TTL_MS, type AnswerRecord } from '../analytics/answers.js';
import type { ReviewService } from '../review/service.js';
import { PrivacyIndex, textSource, type IndexedKey } from '../store/person-index.js';

/**
 * The one deletion path: `/parley forget` (Slack, Discord, console), `parley forget` (an admin
 * handling a GDPR request) and the HTTP API's `DELETE /api/v1/users/{user}` and
 * `DELETE /api/v1/conversations/{id}` all end here. What is deleted and what is kept (identity-free
 * counts) is listed in docs/privacy.md; keep the two in step.
 */
export interface ForgetDeps {
  store: Store;
  history: HistoryStore;
  ledger: UsageLedger;
  /** Absent where only the guardrails run (tests, embedders of the engine): nothing of theirs to delete. */
  analytics?: SupportAnalytics;
  review?: ReviewService;
  /** How many days of ledger rows exist (the privacy settings of the time). */
  ledgerRetentionDays: () => number;
  log: Logger;
  now?: () => number;
}

export interface ForgetReport {
  /** Conversations the person's messages were taken out of (or that were deleted). */
  conversations: number;
  /** Answer records, votes with comments, HTTP API tasks and cached answers deleted. */
  records: number;
  /** Question texts dropped from the daily question lists (their counts stay). */
  questionTexts: number;
  /** Review-queue items deleted or changed. */
  reviewItems: number;
  /** Usage-ledger rows deleted. */
  usageRows: number;
}

/** Keys of these namespaces are deleted outright; `analytics` question lists only lose the person's texts. */
const DELETABLE = new Set(['answers', 'votes', 'api-tasks', 'answer-cache', 'query-rewrites']);

export class Forgetter {
  private readonly index: PrivacyIndex;
  private readonly now: () => number;

  constructor(private readonly d: ForgetDeps) {
    this.now = d.now ?? Date.now;
    this.index = new PrivacyIndex(d.store, this.now);
  }

  /**
   * Everything `platform:userId` wrote: their turns (and the answers to them) in every conversation,
   * answer records, comments, tasks, cached answers to their questions, question texts, review items,
   * usage rows, analytics thread records. With `workspace`, only what they wrote there.
   */
  async forgetPerson(platform: string, userId: string, o: { workspace?: string } = {}): Promise<ForgetReport> {
    const person = `${platform}:${userId}`;
    const prefix = o.workspace === undefined ? `${platform}:` : `${platform}:${o.workspace}:`;
    const report = emptyReport();
    const legacyTexts = new Set<string>();
    const sources = new Set<string>();
    const questionLists = new Set<string>();
    const conversations = unique([...(await this.index.conversationsOf(person)), ...(await this.d.ledger.conversationsOf(person))]).filter((c) =>
      c.startsWith(prefix),
    );

    for (const conversation of conversations) {
      const turns = await this.d.history.load(conversation as ConversationKey);
      for (const t of turns) if (t.role === 'user' && t.user === userId) legacyTexts.add(normalizeQuestion(t.content));
      const kept = withoutUser(turns, userId);
      if (kept.length !== turns.length) {
        report.conversations++;
        await this.d.history.forget(conversation as ConversationKey);
        if (kept.length) await this.d.history.append(conversation as ConversationKey, ...kept);
      }
      const keys = (await this.index.keysOf(conversation)).filter((k) => k.by === person);
      report.records += await this.deleteKeys(keys, legacyTexts, questionLists);
      sources.add(textSource(person, conversation));
      await this.index.dropKeys(conversation, (k) => k.by !== person);
      await this.d.analytics?.forgetThread(conversation, userId);
    }
    report.records += await this.legacyAnswers(
      (a) => a.platform === platform && a.asker.id === userId && a.conversation.startsWith(prefix),
      legacyTexts,
      questionLists,
    );
    report.questionTexts = await this.dropTexts(questionLists, sources, legacyTexts);
    report.reviewItems = (await this.d.review?.forgetPerson(platform, userId, { conversationPrefix: prefix })) ?? 0;
    report.usageRows = await this.d.ledger.forgetUser(person, this.d.ledgerRetentionDays(), this.now(), o.workspace);
    await this.index.dropConversations(person, o.workspace === undefined ? undefined : conversations);
    await this.d.store.purge();
    this.d.log.info({ platform, ...report }, 'deleted a person’s data on request');
    return report;
  }

  /** One whole conversation: its history, and every record and question text written in it. */
  async forgetConversation(conversation: string): Promise<ForgetReport> {
    const report = emptyReport();
    const legacyTexts = new Set<string>();
    const questionLists = new Set<string>();
    const turns: Turn[] = await this.d.history.load(conversation as ConversationKey);
    const people = new Set<string>();
    const platform = conversation.split(':')[0]!;
    for (const t of turns) {
      if (t.role !== 'user') continue;
      legacyTexts.add(normalizeQuestion(t.content));
      if (t.user) people.add(`${platform}:${t.user}`);
    }
    if (turns.length) {
      report.conversations = 1;
      await this.d.history.forget(conversation as ConversationKey);
    }
    const keys = await this.index.keysOf(conversation);
    for (const k of keys) people.add(k.by);
    report.records += await this.deleteKeys(keys, legacyTexts, questionLists);
    report.records += await this.legacyAnswers((a) => a.conversation === conversation, legacyTexts, questionLists);
    const sources = new Set([...people].map((p) => textSource(p, conversation)));
    report.questionTexts = await this.dropTexts(questionLists, sources, legacyTexts);
    await this.index.dropKeys(conversation);
    for (const person of people) {
      await this.index.dropConversations(person, [conversation]);
      await this.d.ledger.dropConversation(person, conversation);
    }
    await this.d.analytics?.forgetThread(conversation);
    report.reviewItems = (await this.d.review?.forgetConversation(conversation)) ?? 0;
    await this.d.store.namespace('handoffs').delete(conversation);
    await this.d.store.purge();
    this.d.log.info({ platform, ...report }, 'deleted a conversation on request');
    return report;
  }

  /** Deletes indexed records; question lists are collected for `dropTexts`, answer records' questions kept for matching legacy texts. */
  private async deleteKeys(keys: IndexedKey[], legacyTexts: Set<string>, questionLists: Set<string>): Promise<number> {
    let deleted = 0;
    for (const k of keys) {
      if (k.ns === 'analytics') {
        questionLists.add(k.key);
        continue;
      }
      if (!DELETABLE.has(k.ns)) continue;
      const kv = this.d.store.namespace<unknown>(k.ns);
      if (k.ns === 'answers') {
        const record = (await kv.get(k.key)) as AnswerRecord | undefined;
        if (record?.question) legacyTexts.add(normalizeQuestion(record.question));
      }
      if (await kv.delete(k.key)) deleted++;
    }
    return deleted;
  }

  /**
   * Answer records written before the index existed (older than its start, younger than their
   * 30-day TTL) are found by a scan of the answer records, only while such records can exist.
   */
  private async legacyAnswers(match: (a: AnswerRecord) => boolean, legacyTexts: Set<string>, questionLists: Set<string>): Promise<number> {
    if (!this.legacyPossible(await this.index.indexedSince(), ANSWER_TTL_MS)) return 0;
    const kv = this.d.store.namespace<AnswerRecord>('answers');
    const found: string[] = [];
    for await (const [key, record] of this.d.store.entries<AnswerRecord>('answers')) {
      if (!record?.asker || !match(record)) continue;
      found.push(key);
      if (record.question) legacyTexts.add(normalizeQuestion(record.question));
      if (record.day) questionLists.add(`q:${record.day}`);
    }
    let deleted = 0;
    for (const key of found) if (await kv.delete(key)) deleted++;
    return deleted;
  }

  /** Drops the person's texts from the question lists; legacy lists (before the index) are looked through by day while they can exist. */
  private async dropTexts(lists: Set<string>, sources: Set<string>, legacyTexts: Set<string>): Promise<number> {
    const since = await this.index.indexedSince();
    const all = new Set(lists);
    if (legacyTexts.size && this.legacyPossible(since, ANALYTICS_RETENTION_MS)) {
      const until = since ? since : this.now();
      for (const day of daysBetween(this.now() - ANALYTICS_RETENTION_MS, until)) all.add(`q:${day}`);
    }
    legacyTexts.delete('');
    let dropped = 0;
    for (const key of all) dropped += (await this.d.analytics?.dropQuestionTexts(key, sources, legacyTexts)) ?? 0;
    return dropped;
  }

  /** Whether data written before the index (and kept `ttlMs`) may still be in the store. */
  private legacyPossible(since: number | undefined, ttlMs: number): boolean {
    if (since === undefined) return true;
    return since > 0 && this.now() - since < ttlMs;
  }
}

/** The conversation without `userId`'s turns and the answers to them. */
export function withoutUser(turns: Turn[], userId: string): Turn[] {
  const kept: Turn[] = [];
  let dropping = false;
  for (const t of turns) {
    if (t.role === 'user') dropping = t.user === userId;
    if (!dropping) kept.push(t);
  }
  return kept;
}

function emptyReport(): ForgetReport {
  return { conversations: 0, records: 0, questionTexts: 0, reviewItems: 0, usageRows: 0 };
}

function unique<T>(list: T[]): T[] {
  return [...new Set(list)];
}

/** What `/parley forget` answers: what was deleted, and what stays (identity-free counts). */
export function describeForget(r: ForgetReport): string {
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const also = [r.records ? n(r.records, 'stored answer or record') : '', r.questionTexts ? n(r.questionTexts, 'question text') : ''].filter(Boolean);
  return (
    `Done: I deleted your messages (and my answers to them) from ${n(r.conversations, 'conversation')}` +
    `${r.reviewItems ? `, ${n(r.reviewItems, 'answer')} queued for review` : ''} and ${n(r.usageRows, 'usage record')}.` +
    `${also.length ? ` Also deleted: ${also.join(' and ')}.` : ''}` +
    " Counts kept for statistics and billing do not name you; today's budget counter runs until the day ends."
  );
}

/** Privacy as a feature: `/parley forget` runs the one deletion path for the caller. */
export function privacyFeature(forgetter: Forgetter): Feature {
  return {
    name: 'privacy',
    commands: [
      {
        name: 'forget',
        help: '`/parley forget`: delete everything Parley stored of what you wrote (messages, answers to them, feedback comments, usage records); counts without your name stay',
        async run(ctx) {
          ctx.answer = { text: describeForget(await forgetter.forgetPerson(ctx.message.platform, ctx.message.user.id)), source: 'command' };
        },
      },
    ],
  };
}
