import { join } from 'node:path';
import type { Settings } from '../config/settings.js';
import { ParleyError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import type { TurnResult } from '../engine/pipeline.js';
import type { Store } from '../store/store.js';
import { dayOf, normalizeQuestion } from '../analytics/support-analytics.js';
import type { AnswerRecord } from '../analytics/answers.js';
import type { KnowledgeBase } from '../knowledge/base.js';
import { saveFaqCorrection } from './faq-file.js';
import { ReviewQueue, reviewId, type ReviewFlag, type ReviewItem, type ReviewPassage, type ReviewReason, type ReviewStatus } from './queue.js';

/**
 * The review queue (issue 12): weak answers are queued with the question, the answer, the
 * passages and the groundedness score: model answers under the groundedness threshold, answers
 * with a 👎, and answers someone took to a human. A reviewer marks each good or bad, or saves a
 * corrected answer as an FAQ entry, after which the same question is answered from the FAQ
 * with no model call. Used by the support desk (flags), `parley review` and the dashboard.
 */
export class ReviewError extends ParleyError {}

export interface ReviewDeps {
  store: Store;
  /** Read per use: a config reload applies at once. */
  settings: () => Settings;
  /** The current knowledge base (passage texts, and re-indexing after a correction). */
  knowledge: () => KnowledgeBase | undefined;
  log: Logger;
  now?: () => number;
}

export interface ReviewQuery {
  since: number;
  until?: number;
  /** Default `open`. */
  status?: ReviewStatus | 'all';
  reason?: ReviewReason;
  profile?: string;
}

export interface Correction {
  item: ReviewItem;
  /** The question the answer was saved under (the reviewer's wording, else the item's). */
  question: string;
  faq: { file: string; id: string; created: boolean };
  /** The knowledge base, re-indexed, answers the FAQ question (the reviewer's wording, else the item's) from this entry. */
  answersFromFaq: boolean;
  /** Other open items with the same question, closed by this correction. */
  alsoCorrected: string[];
}

const DAY_MS = 86_400_000;

export class ReviewService {
  readonly queue: ReviewQueue;

  constructor(private readonly d: ReviewDeps) {
    this.queue = new ReviewQueue(d.store, () => d.settings().review.retentionDays * DAY_MS);
  }

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** Below this groundedness a model answer is queued. */
  get threshold(): number {
    return this.d.settings().review.groundednessThreshold;
  }

  /** A turn was answered: queued when its groundedness is under the threshold. Returns whether it was. */
  async answered(record: AnswerRecord, r: TurnResult): Promise<boolean> {
    const g = r.grounding;
    if (!g || g.score >= this.threshold) return false;
    const passages = g.passages.map((p): ReviewPassage => ({ id: p.id, title: p.title, location: p.location, text: p.text }));
    await this.flag(record, { reason: 'low_groundedness', at: r.finishedAt }, passages);
    return true;
  }

  /** A 👍 or 👎 on an answer; a 👎 queues it, a change back to 👍 withdraws that person's 👎. */
  async voted(record: AnswerRecord, user: { id: string; name?: string }, vote: 'up' | 'down', reason?: string): Promise<void> {
    if (vote === 'down') return this.flag(record, { reason: 'down', at: this.now(), user, note: reason });
    const id = reviewId(record.platform, record.answerId);
    // Most 👍 are on answers nobody flagged: a read, not a locked write.
    if (!(await this.queue.get(id))) return;
    await this.queue.update(id, (item) => {
      if (!item) return undefined;
      const flags = item.flags.filter((f) => !(f.reason === 'down' && f.user?.id === user.id));
      // An untouched item with nothing left against it leaves the queue.
      return flags.length || item.status !== 'open' ? { ...item, flags } : undefined;
    });
  }

  handedOff(record: AnswerRecord, user: { id: string; name?: string }, reason?: string): Promise<void> {
    return this.flag(record, { reason: 'handoff', at: this.now(), user, note: reason });
  }

  async get(id: string): Promise<ReviewItem | undefined> {
    return this.queue.get(id);
  }

  /** Flagged items of the period, weakest first (see `severity`), newest first among equals. */
  async list(q: ReviewQuery): Promise<ReviewItem[]> {
    const status = q.status ?? 'open';
    const items = await this.queue.flagged(q.since, q.until ?? this.now());
    return items
      .filter(
        (i) =>
          (status === 'all' || i.status === status) && (!q.reason || i.flags.some((f) => f.reason === q.reason)) && (!q.profile || i.profile === q.profile),
      )
      .sort((a, b) => severity(b) - severity(a) || b.flaggedAt - a.flaggedAt);
  }

  /** A reviewer's verdict without a correction. */
  async mark(id: string, verdict: 'good' | 'bad', by: string, note?: string): Promise<ReviewItem> {
    // An FAQ entry saved for this answer stays linked (the file keeps it until someone edits it).
    const item = await this.queue.update(id, (i) => i && { ...i, status: verdict, review: { verdict, by, at: this.now(), note, faq: i.review?.faq } });
    if (!item) throw notFound(id);
    this.d.log.info({ review: id, verdict }, 'review verdict');
    return item;
  }

  /**
   * Saves `answer` as the FAQ answer to the item's question: the entry that already answers it
   * when there is one (a 👎 on an FAQ answer corrects that entry), else a new entry in the
   * reviewed-FAQ file of the profile's knowledge folder. Re-indexes, checks the question now
   * matches the FAQ, and closes the item (and open items with the same question).
   */
  async correct(id: string, o: { answer: string; by: string; note?: string; question?: string }): Promise<Correction> {
    const item = await this.queue.get(id);
    if (!item) throw notFound(id);
    // The reviewer may word the FAQ question themselves (without the asker's order number, say):
    // it then replaces the question as asked in the file, which the team reviews in git.
    const question = o.question?.trim() || item.question;
    const s = this.d.settings();
    const profileSources = s.profiles.get(item.profile)?.knowledge;
    // Corrections are saved as FAQ files, so only folders can take them (a docs site cannot).
    const sources = s.knowledge.sources.filter((src) => !src.sitemap && (!profileSources || profileSources.includes(src.name)));
    if (!sources.length) {
      throw new ReviewError(
        'no_knowledge',
        `profile "${item.profile}" reads no knowledge folder, so there is no FAQ to save to: set KNOWLEDGE_DIR or knowledge.sources in the config file`,
      );
    }
    const kb = this.d.knowledge();
    const existing = kb?.faqMatch(question, profileSources);
    const existingSource = existing && existing.score >= s.knowledge.faqThreshold ? sources.find((src) => src.name === existing.entry.sourceName) : undefined;
    const target = existingSource ?? sources[0]!;
    const file = existingSource ? existing!.entry.file : s.review.faqFile;
    // Cite the page the answer's best passage came from, when it is a page of the same folder.
    const page = item.passages.map((p) => p.id).find((pid) => pid.startsWith(`${target.name}:`) && !/\.ya?ml#/i.test(pid));
    const saved = await saveFaqCorrection(join(target.dir, file), `${target.displayPath}/${file}`, {
      question,
      answer: o.answer,
      existingVariant: existingSource ? existing!.variant : undefined,
      source: existingSource ? undefined : page?.slice(target.name.length + 1).split('#')[0],
      comment: `corrected by ${o.by} on ${dayOf(this.now())} (review ${item.id})`,
    }).catch((err: NodeJS.ErrnoException) => {
      // A read-only knowledge folder (a container image, a read-only mount) is a deployment choice to explain, not a crash.
      if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') {
        throw new ReviewError(
          'faq_not_writable',
          `cannot write ${target.displayPath}/${file} (${err.code}): make the knowledge folder writable for this process (parley doctor checks it)`,
          { cause: err },
        );
      }
      throw err;
    });
    const faq = { file: `${target.displayPath}/${file}`, id: saved.id, created: saved.created };
    await kb?.refresh();
    const match = kb?.faqMatch(question, profileSources);
    const answersFromFaq = !!match && match.score >= s.knowledge.faqThreshold && match.entry.answer === o.answer.trim();
    if (!answersFromFaq)
      this.d.log.warn(
        { review: id, file: faq.file },
        'saved the corrected answer, but the FAQ does not match its question yet (re-index pending, or a closer entry wins)',
      );
    const review = { verdict: 'corrected' as const, by: o.by, at: this.now(), note: o.note, faq: { file: faq.file, id: faq.id } };
    const closed = (await this.queue.update(id, (i) => i && { ...i, status: 'corrected', review }))!;
    // The same question asked again in the period was the same gap: one correction closes them all.
    const keys = new Set([normalizeQuestion(item.question), normalizeQuestion(question)]);
    const twins = (await this.queue.flagged(this.now() - s.review.retentionDays * DAY_MS, this.now())).filter(
      (i) => i.id !== id && i.status === 'open' && i.profile === item.profile && keys.has(normalizeQuestion(i.question)),
    );
    for (const twin of twins) await this.queue.update(twin.id, (i) => i && { ...i, status: 'corrected', review });
    this.d.log.info({ review: id, file: faq.file, entry: faq.id, created: faq.created, answersFromFaq }, 'answer corrected into the FAQ');
    return { item: closed, question, faq, answersFromFaq, alsoCorrected: twins.map((t) => t.id) };
  }

  /**
   * `/parley forget`: the person's questions leave the queue (items they asked), and so do their
   * 👎 and handoff notes on other people's answers. Returns how many items were deleted or changed.
   */
  async forgetPerson(platform: string, userId: string, o: { conversationPrefix?: string } = {}): Promise<number> {
    const mine = (f: ReviewFlag) => f.user?.id === userId;
    const items = await this.queue.flagged(this.now() - this.d.settings().review.retentionDays * DAY_MS, this.now());
    let changed = 0;
    const inScope = (i: ReviewItem) => !o.conversationPrefix || i.conversation.startsWith(o.conversationPrefix);
    for (const item of items.filter((i) => i.platform === platform && inScope(i) && (i.asker?.id === userId || i.flags.some(mine)))) {
      await this.queue.update(item.id, (i) => {
        if (!i || i.asker?.id === userId) return undefined;
        const flags = i.flags.filter((f) => !mine(f));
        return flags.length || i.status !== 'open' ? { ...i, flags } : undefined;
      });
      changed++;
    }
    return changed;
  }

  /** Deletion of a whole conversation: every item answered in it leaves the queue. Returns how many. */
  async forgetConversation(conversation: string): Promise<number> {
    const items = await this.queue.flagged(this.now() - this.d.settings().review.retentionDays * DAY_MS, this.now());
    const inIt = items.filter((i) => i.conversation === conversation);
    for (const item of inIt) await this.queue.update(item.id, () => undefined);
    return inIt.length;
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async flag(record: AnswerRecord, flag: ReviewFlag, passages?: ReviewPassage[]): Promise<void> {
    const id = reviewId(record.platform, record.answerId);
    const known = passages ?? this.passagesOf(record);
    await this.queue.update(
      id,
      (item) => {
        const base = item ?? newItem(id, record, known);
        // One 👎 per person (a re-vote with a new reason replaces it). A new flag reopens a reviewed
        // item; its last review stays on it, so the reviewer sees what was decided before.
        const flags = base.flags.filter((f) => !(f.reason === flag.reason && (flag.reason === 'low_groundedness' || f.user?.id === flag.user?.id)));
        return { ...base, flags: [...flags, flag], flaggedAt: Math.max(base.flaggedAt, flag.at), status: 'open' };
      },
      { touch: true },
    );
    this.d.log.info({ review: id, reason: flag.reason, platform: record.platform, conversation: record.conversation }, 'answer queued for review');
  }

  /** The answer's passages as the knowledge base has them now (the record keeps references only). */
  private passagesOf(record: AnswerRecord): ReviewPassage[] {
    const kb = this.d.knowledge();
    return (record.grounding?.passages ?? []).map((ref) => {
      const now = kb?.passageByKey(ref.id);
      return { id: ref.id, title: ref.title, location: ref.location, text: now?.text, changed: now?.hash !== ref.hash || undefined };
    });
  }
}

function newItem(id: string, r: AnswerRecord, passages: ReviewPassage[]): ReviewItem {
  return {
    id,
    platform: r.platform,
    answerId: r.answerId,
    conversation: r.conversation,
    asker: r.asker,
    profile: r.profile,
    channel: r.channel,
    question: r.question,
    answer: r.text,
    source: r.source,
    answeredAt: r.at,
    groundedness: r.grounding?.score,
    unsupported: r.grounding?.unsupported ?? [],
    passages,
    flags: [],
    flaggedAt: 0,
    status: 'open',
  };
}

/** Weakest first: a handoff weighs most, each 👎 next, then how little of the answer was grounded. */
export function severity(i: ReviewItem): number {
  let s = 0;
  for (const f of i.flags) s += f.reason === 'handoff' ? 2 : f.reason === 'down' ? 1 : 1 - (i.groundedness ?? 1);
  return s;
}

function notFound(id: string): ReviewError {
  return new ReviewError('review_not_found', `no review item "${id}" (it may be older than the retention period)`);
}
