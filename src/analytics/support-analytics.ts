import type Keyv from 'keyv';
import type { TurnResult } from '../engine/pipeline.js';
import { modelCallsOf } from '../kernel/adapter.js';
import type { Store } from '../store/store.js';
import { exclusive } from '../store/exclusive.js';
import { addToSketch, emptySketch, type SketchData } from './sketch.js';
import { textSource } from '../store/person-index.js';
import type { Logger } from '../kernel/logger.js';
import { countQuestion, normalizeQuestion, questionId, TopQuestionLists, type TopList, type TopQuestion } from './top-questions.js';

export { normalizeQuestion, type TopQuestion } from './top-questions.js';

/**
 * Support analytics, aggregated as events arrive into one bucket per day × profile × channel
 * (UTC days), kept in the store. Each thread's resolution is tracked too: resolved on 👍 or a
 * thanks from the asker, unresolved on 👎 or a handoff, assumed resolved after a quiet period.
 *
 * Writes are read-modify-write: serialised in this process, and on a shared store (Redis, several
 * instances) each recording holds the analytics in the store for its few milliseconds, so no
 * instance's update overwrites another's.
 */
export const ANALYTICS_RETENTION_MS = 400 * 86_400_000; // a year of days, plus margin for year-over-year
const THREAD_TTL_MS = 60 * 86_400_000; // feedback on threads older than two months is not attributed
/** Threads awaiting their quiet period, by time of their last turn (a store timeline: a Redis sorted set when shared). */
const OPEN_THREADS = 'analytics-open';
const SWEEP_BATCH = 200; // due threads settled per turn of the write chain

/** Sources that are not questions: command replies and quiet turns in handed-off threads. */
const NOT_QUESTIONS = new Set(['command', 'silent']);
/** Sources that mean the question went unanswered. */
const UNANSWERED = new Set(['declined', 'error']);

export type ThreadState = 'open' | 'resolved' | 'unresolved' | 'assumed';

export interface SupportBucket {
  day: string;
  profile: string;
  /** `platform:channel`. */
  channel: string;
  questions: number;
  /** Answers by source: model, faq, knowledge, cache, declined, error, rate_limited, … */
  sources: Record<string, number>;
  handoffs: number;
  up: number;
  down: number;
  threads: number;
  resolved: number;
  unresolved: number;
  assumed: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
  /** Time from the question to the first visible text of the answer. */
  firstVisible: SketchData;
  /** Model answers with passages, the sum of their groundedness (0–1 each), and how many went to the review queue (issue 12; absent in older buckets). */
  groundedAnswers?: number;
  groundednessSum?: number;
  queuedForReview?: number;
  /** Answers that were not whole: cut at the length limit (finish_reason "length") or cut off mid-answer (absent in older buckets). */
  cutAtLength?: number;
  incomplete?: number;
}

interface ThreadRecord {
  day: string;
  profile: string;
  channel: string;
  state: ThreadState;
  lastAt: number;
  /** Who opened the thread: only their thanks resolves it. */
  asker: string;
}

/** Shown instead of a question whose asker had their words deleted (its counts stay). */
export const DELETED_QUESTION = '(question deleted at the asker’s request)';

/** Where an answer was counted: its bucket and its question. */
export interface AnswerPlace {
  conversation: string;
  /** Who asked (`platform:userId`), so the question list knows whose text it holds. */
  person?: string;
  day: string;
  profile: string;
  channel: string;
  question: string;
}

export type PriceOf = (profile: string, model: string | undefined) => { inputPerMillion: number; outputPerMillion: number } | undefined;

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class SupportAnalytics {
  private readonly kv: Keyv<unknown>;
  private chain: Promise<unknown> = Promise.resolve();

  private readonly shared?: Store;
  /** The days' question lists: written behind when this process owns the store. */
  private readonly top: TopQuestionLists;

  /** @param o.log where a question list that could not be written behind is reported (it is retried by the next flush). */
  constructor(
    private readonly store: Store,
    private readonly o: { priceOf?: PriceOf; quietPeriodMs: number; now?: () => number; log?: Logger },
  ) {
    this.kv = store.namespace('analytics');
    // One process owns a memory or sqlite store; only Redis is written by several instances.
    if (store.kind === 'redis') this.shared = store;
    this.top = new TopQuestionLists(this.kv, ANALYTICS_RETENTION_MS, !this.shared, () => {
      this.serial(() => this.top.flush()).catch((err) =>
        this.o.log?.error({ err: err instanceof Error ? err.message : String(err) }, 'writing the question lists failed; retried on the next write'),
      );
    });
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Runs `fn` after every earlier write of this process, holding the analytics across instances (read-modify-write stays consistent). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const shared = this.shared;
    const run = shared ? () => exclusive(shared, 'analytics', fn) : fn;
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Resolves once every write started so far has reached the store (question lists written behind included). */
  idle(): Promise<void> {
    return this.serial(() => this.top.flush());
  }

  /** Where a turn's answer is counted (and later its feedback). */
  placeOf(r: TurnResult): AnswerPlace {
    return {
      conversation: r.conversation,
      person: `${r.message.platform}:${r.message.user.id}`,
      day: dayOf(r.message.receivedAt),
      profile: r.profile,
      channel: `${r.message.platform}:${r.message.channel}`,
      question: r.question,
    };
  }

  recordTurn(r: TurnResult, o: { isThanks?: boolean; queuedForReview?: boolean } = {}): Promise<void> {
    if (NOT_QUESTIONS.has(r.source) || o.isThanks) return Promise.resolve();
    const place = this.placeOf(r);
    return this.serial(async () => {
      const key = `t:${r.conversation}`;
      const thread = (await this.kv.get(key)) as ThreadRecord | undefined;
      await this.updateBucket(place, (b) => {
        b.questions++;
        if (!thread) b.threads++;
        b.sources[r.source] = (b.sources[r.source] ?? 0) + 1;
        // The answer's call and any made for it (a query rewrite), each at its own model's price.
        for (const { model, usage } of modelCallsOf(r)) {
          b.promptTokens += usage.promptTokens;
          b.completionTokens += usage.completionTokens;
          const price = this.o.priceOf?.(r.profile, model);
          if (price) b.costMicros += Math.round(usage.promptTokens * price.inputPerMillion + usage.completionTokens * price.outputPerMillion);
        }
        if (r.firstVisibleAt !== undefined) addToSketch(b.firstVisible, r.firstVisibleAt - r.message.receivedAt);
        if (r.grounding) {
          b.groundedAnswers = (b.groundedAnswers ?? 0) + 1;
          b.groundednessSum = (b.groundednessSum ?? 0) + r.grounding.score;
        }
        if (o.queuedForReview) b.queuedForReview = (b.queuedForReview ?? 0) + 1;
        if (r.incomplete) b.incomplete = (b.incomplete ?? 0) + 1;
        if (r.finishReason === 'length') b.cutAtLength = (b.cutAtLength ?? 0) + 1;
      });
      await this.updateTop(place, (t) => {
        t.asked++;
        if (UNANSWERED.has(r.source)) t.unanswered++;
      });
      if (!thread) {
        await this.kv.set(
          key,
          {
            day: place.day,
            profile: place.profile,
            channel: place.channel,
            state: 'open',
            lastAt: r.finishedAt,
            asker: r.message.user.id,
          } satisfies ThreadRecord,
          THREAD_TTL_MS,
        );
        await this.markOpen(r.conversation, r.finishedAt);
      } else {
        await this.kv.set(key, { ...thread, lastAt: r.finishedAt }, THREAD_TTL_MS);
        if (thread.state === 'open') await this.markOpen(r.conversation, r.finishedAt);
      }
    });
  }

  /** A 👍 or 👎; `previous` is the same person's earlier vote on the answer (it is replaced). */
  recordVote(place: AnswerPlace, vote: 'up' | 'down', previous?: 'up' | 'down'): Promise<void> {
    if (vote === previous) return Promise.resolve();
    return this.serial(async () => {
      await this.updateBucket(place, (b) => {
        b[vote]++;
        if (previous) b[previous] = Math.max(0, b[previous] - 1);
      });
      await this.updateTop(place, (t) => {
        if (vote === 'down') t.down++;
        if (previous === 'down') t.down = Math.max(0, t.down - 1);
      });
      await this.setThreadState(place.conversation, vote === 'up' ? 'resolved' : 'unresolved');
    });
  }

  recordHandoff(place: AnswerPlace): Promise<void> {
    return this.serial(async () => {
      await this.updateBucket(place, (b) => void b.handoffs++);
      await this.updateTop(place, (t) => void t.handoffs++);
      await this.setThreadState(place.conversation, 'unresolved');
    });
  }

  /** The asker said thanks: the thread is resolved (unless a 👎 or a handoff said otherwise). */
  recordThanks(conversation: string, user: string): Promise<void> {
    return this.serial(async () => {
      const thread = (await this.kv.get(`t:${conversation}`)) as ThreadRecord | undefined;
      if (thread && thread.asker === user && thread.state !== 'unresolved') await this.setThreadState(conversation, 'resolved');
    });
  }

  /**
   * Threads quiet for the quiet period count as resolved. Runs before every report. Due threads
   * are settled in batches, each one turn of the write chain: every bucket is written once per
   * batch, and a long sweep never holds the other writers (or the shared lock) for long.
   */
  async sweep(now: number = this.now()): Promise<number> {
    const due = (await this.store.timeline(OPEN_THREADS, 0, now - this.o.quietPeriodMs)).map((e) => e.member);
    for (let i = 0; i < due.length; i += SWEEP_BATCH) {
      const batch = due.slice(i, i + SWEEP_BATCH);
      await this.serial(async () => {
        const assumed = new Map<string, { place: AnswerPlace; n: number }>();
        for (const conversation of batch) {
          const key = `t:${conversation}`;
          const thread = (await this.kv.get(key)) as ThreadRecord | undefined;
          if (thread?.state !== 'open') continue;
          await this.kv.set(key, { ...thread, state: 'assumed' }, THREAD_TTL_MS);
          const bucket = `${thread.day}|${thread.profile}|${thread.channel}`;
          const entry = assumed.get(bucket) ?? {
            place: { conversation, day: thread.day, profile: thread.profile, channel: thread.channel, question: '' },
            n: 0,
          };
          entry.n++;
          assumed.set(bucket, entry);
        }
        for (const { place, n } of assumed.values()) await this.updateBucket(place, (b) => void (b.assumed += n));
        await this.store.removeFromTimeline(OPEN_THREADS, ...batch);
      });
    }
    return due.length;
  }

  /** Every bucket of the days from `since` to `until` (inclusive, UTC). */
  async buckets(since: number, until: number): Promise<SupportBucket[]> {
    await this.idle();
    const out: SupportBucket[] = [];
    for (const day of daysBetween(since, until)) {
      const keys = ((await this.kv.get(`days:${day}`)) as string[] | undefined) ?? [];
      const got = await Promise.all(keys.map((k) => this.kv.get(k) as Promise<SupportBucket | undefined>));
      for (const b of got) if (b) out.push(b);
    }
    return out;
  }

  async topQuestions(since: number, until: number): Promise<TopQuestion[]> {
    await this.idle();
    const merged = new Map<string, TopQuestion>();
    for (const day of daysBetween(since, until)) {
      const top = ((await this.kv.get(`q:${day}`)) as TopList | undefined) ?? {};
      for (const [stored, t] of Object.entries(top)) {
        const key = stored.includes('|#') ? stored : questionId(t.profile, normalizeQuestion(t.question));
        const m = merged.get(key);
        if (!m) merged.set(key, { ...t });
        else {
          m.asked += t.asked;
          m.unanswered += t.unanswered;
          m.down += t.down;
          m.handoffs += t.handoffs;
        }
      }
    }
    return [...merged.values()];
  }

  private async updateBucket(place: AnswerPlace, change: (b: SupportBucket) => void): Promise<void> {
    const key = `b:${place.day}|${place.profile}|${place.channel}`;
    let b = (await this.kv.get(key)) as SupportBucket | undefined;
    if (!b) {
      b = newBucket(place);
      const indexKey = `days:${place.day}`;
      const index = ((await this.kv.get(indexKey)) as string[] | undefined) ?? [];
      if (!index.includes(key)) await this.kv.set(indexKey, [...index, key], ANALYTICS_RETENTION_MS);
    }
    change(b);
    await this.kv.set(key, b, ANALYTICS_RETENTION_MS);
  }

  private async updateTop(place: AnswerPlace, change: (t: TopQuestion) => void): Promise<void> {
    const normalized = normalizeQuestion(place.question);
    if (!normalized) return;
    const key = `q:${place.day}`;
    const top = await this.top.get(key);
    // Keyed by a hash: the text itself lives only in `question`, which a deletion can drop.
    const id = questionId(place.profile, normalized);
    const src = place.person ? textSource(place.person, place.conversation) : undefined;
    const fresh = (): TopQuestion => ({ question: place.question.slice(0, 300), src, profile: place.profile, asked: 0, unanswered: 0, down: 0, handoffs: 0 });
    countQuestion(top, id, fresh, (t) => {
      // A question whose text was deleted takes the words of the next person who asks it.
      if (t.question === DELETED_QUESTION && src) Object.assign(t, { question: place.question.slice(0, 300), src });
      change(t);
    });
    await this.top.changed(key, top);
  }

  /**
   * Deletion (src/privacy/forget.ts): in the question list `key` (`q:DAY`), the texts written by
   * `sources` (textSource ids), and legacy entries (no source) whose normalized text is in
   * `legacyTexts`, become DELETED_QUESTION; every count stays. Returns how many texts were dropped.
   */
  dropQuestionTexts(key: string, sources: Set<string>, legacyTexts: Set<string> = new Set()): Promise<number> {
    return this.serial(async () => {
      // The parsed copy of the day kept in process must not write the text back on the next turn.
      const top = this.top.held(key) ?? ((await this.kv.get(key)) as TopList | undefined);
      if (!top) return 0;
      let dropped = 0;
      for (const t of Object.values(top)) {
        const mine = t.src ? sources.has(t.src) : legacyTexts.has(normalizeQuestion(t.question));
        if (!mine || t.question === DELETED_QUESTION) continue;
        t.question = DELETED_QUESTION;
        delete t.src;
        dropped++;
      }
      if (dropped) await this.top.write(key, top);
      return dropped;
    });
  }

  /** Deletion: the thread record of `conversation` (it names the asker) leaves, with its place among open threads. Counts stay. */
  forgetThread(conversation: string, onlyAsker?: string): Promise<boolean> {
    return this.serial(async () => {
      const key = `t:${conversation}`;
      const thread = (await this.kv.get(key)) as ThreadRecord | undefined;
      if (!thread || (onlyAsker !== undefined && thread.asker !== onlyAsker)) return false;
      await this.kv.delete(key);
      await this.store.removeFromTimeline(OPEN_THREADS, conversation);
      return true;
    });
  }

  private markOpen(conversation: string, at: number): Promise<void> {
    return this.store.addToTimeline(OPEN_THREADS, conversation, at, THREAD_TTL_MS);
  }

  private async setThreadState(conversation: string, state: ThreadState): Promise<void> {
    const key = `t:${conversation}`;
    const thread = (await this.kv.get(key)) as ThreadRecord | undefined;
    if (!thread || thread.state === state) return;
    const place = { conversation, day: thread.day, profile: thread.profile, channel: thread.channel, question: '' };
    await this.updateBucket(place, (b) => {
      if (thread.state !== 'open') b[thread.state] = Math.max(0, b[thread.state] - 1);
      if (state !== 'open') b[state]++;
    });
    await this.kv.set(key, { ...thread, state }, THREAD_TTL_MS);
    if (thread.state === 'open') await this.store.removeFromTimeline(OPEN_THREADS, conversation);
  }
}

function newBucket(place: AnswerPlace): SupportBucket {
  return {
    day: place.day,
    profile: place.profile,
    channel: place.channel,
    questions: 0,
    sources: {},
    handoffs: 0,
    up: 0,
    down: 0,
    threads: 0,
    resolved: 0,
    unresolved: 0,
    assumed: 0,
    promptTokens: 0,
    completionTokens: 0,
    costMicros: 0,
    firstVisible: emptySketch(),
    groundedAnswers: 0,
    groundednessSum: 0,
    queuedForReview: 0,
  };
}

export function daysBetween(since: number, until: number): string[] {
  const days: string[] = [];
  const start = Date.parse(`${dayOf(since)}T00:00:00Z`);
  for (let t = start; t <= until; t += 86_400_000) days.push(dayOf(t));
  return days;
}
