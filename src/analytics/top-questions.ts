import type Keyv from 'keyv';
import { sha256 } from '../knowledge/analyzer.js';

/** Distinct normalized questions kept per day (the least asked are dropped). */
export const TOP_QUESTIONS_PER_DAY = 300;
/** Parsed lists kept in process: today and, around midnight UTC, yesterday. */
const CACHED_DAYS = 2;
/**
 * How long a changed list may wait before it is written, when this process owns the store. A
 * day's list is up to 300 entries (~45 KB of JSON): written on every turn it was the largest
 * cost of a short reply (issue 19: a third of its allocations, ~10 % of its CPU). A crash loses
 * at most this much of the question counts; a stop, `idle()` and every report write it first.
 */
export const TOP_QUESTIONS_FLUSH_MS = 1_000;

export interface TopQuestion {
  /**
   * The question as first asked (the key is a hash of its normalized form). Deleted on request
   * (`/parley forget` and the like): the text becomes DELETED_QUESTION and the counts stay.
   */
  question: string;
  /** Whose text it is, pseudonymously (textSource(person, conversation)): how a deletion finds it. Absent in lists written before issue 18. */
  src?: string;
  profile: string;
  asked: number;
  unanswered: number;
  down: number;
  handoffs: number;
}

export type TopList = Record<string, TopQuestion>;

/** Lower case, no punctuation, single spaces: "How do I reset my password?!" → "how do i reset my password". */
export function normalizeQuestion(q: string): string {
  return q
    .toLowerCase()
    .replace(/<[@#!&][^>]*>/g, ' ')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** A list entry's key: the profile and a hash of the normalized question (the text itself lives only in `question`). */
export function questionId(profile: string, normalized: string): string {
  return `${profile}|#${sha256(normalized).slice(0, 16)}`;
}

/**
 * The day's question lists (`q:DAY` in the analytics namespace). On a shared store (Redis) each
 * change is read and written at once, under the caller's cross-instance hold. When this process
 * owns the store (memory, sqlite) the current days stay parsed here and a changed list is
 * written behind, at most once per TOP_QUESTIONS_FLUSH_MS; deletions write at once.
 * Callers serialise every call (SupportAnalytics' write chain).
 */
export class TopQuestionLists {
  private readonly parsed = new Map<string, TopList>();
  private readonly dirty = new Set<string>();
  private timer?: NodeJS.Timeout;

  /**
   * @param owned whether this process is the store's only writer (memory, sqlite)
   * @param scheduleFlush called once a list waits to be written: flush within TOP_QUESTIONS_FLUSH_MS
   */
  constructor(
    private readonly kv: Keyv<unknown>,
    private readonly ttlMs: number,
    private readonly owned: boolean,
    private readonly scheduleFlush: () => void,
  ) {}

  /** The list `key`, as stored or as changed here since (empty when there is none). */
  async get(key: string): Promise<TopList> {
    if (!this.owned) return ((await this.kv.get(key)) as TopList | undefined) ?? {};
    const cached = this.parsed.get(key);
    if (cached) return cached;
    const list = ((await this.kv.get(key)) as TopList | undefined) ?? {};
    if (this.parsed.size >= CACHED_DAYS) {
      const oldest = this.parsed.keys().next().value!;
      await this.writeNow(oldest); // a day leaving the cache is written first
      this.parsed.delete(oldest);
    }
    this.parsed.set(key, list);
    return list;
  }

  /** The list `key` as already read, without reading the store (undefined when not held here). */
  held(key: string): TopList | undefined {
    return this.parsed.get(key);
  }

  /** `list` (from `get(key)`) changed: written now on a shared store, soon when owned. */
  async changed(key: string, list: TopList): Promise<void> {
    if (!this.owned) return void (await this.kv.set(key, list, this.ttlMs));
    this.dirty.add(key);
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.scheduleFlush();
      }, TOP_QUESTIONS_FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes `list` (from `held(key)` or the store) at once: a deletion must not wait. */
  async write(key: string, list: TopList): Promise<void> {
    await this.kv.set(key, list, this.ttlMs);
    if (this.parsed.get(key) === list) this.dirty.delete(key);
  }

  /** Writes every list changed since it was last written. A list that fails stays waiting. */
  async flush(): Promise<void> {
    for (const key of [...this.dirty]) await this.writeNow(key);
  }

  private async writeNow(key: string): Promise<void> {
    const list = this.parsed.get(key);
    if (!list || !this.dirty.has(key)) return;
    await this.kv.set(key, list, this.ttlMs);
    this.dirty.delete(key);
  }
}

/**
 * Counts a question in `top` (`change` on its entry, created if new); past TOP_QUESTIONS_PER_DAY
 * the least asked other entry leaves. One pass over the list, no copies: this runs on every turn.
 */
export function countQuestion(top: TopList, id: string, fresh: () => TopQuestion, change: (t: TopQuestion) => void): TopQuestion {
  const t = (top[id] ??= fresh());
  change(t);
  let size = 0;
  let drop: string | undefined;
  let least = Number.POSITIVE_INFINITY;
  for (const k in top) {
    size++;
    if (k === id) continue;
    const e = top[k]!;
    const weight = e.asked + e.down + e.handoffs;
    // Strictly less: the first of equals (in insertion order) leaves, as a stable sort would pick.
    if (weight < least) {
      least = weight;
      drop = k;
    }
  }
  if (size > TOP_QUESTIONS_PER_DAY && drop !== undefined) delete top[drop];
  return t;
}
