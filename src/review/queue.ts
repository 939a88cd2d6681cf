import type Keyv from 'keyv';
import type { Store } from '../store/store.js';
import { exclusive } from '../store/exclusive.js';
import { sha256 } from '../knowledge/analyzer.js';

/**
 * The review queue's storage: one record per flagged answer (keyed by a short stable id), and a
 * store timeline of when each was last flagged, so "the last 7 days" is one range read on every
 * backend (a Redis sorted set when several instances share the queue).
 */
export type ReviewReason = 'low_groundedness' | 'down' | 'handoff';
export type ReviewStatus = 'open' | 'good' | 'bad' | 'corrected';
export type ReviewVerdict = Exclude<ReviewStatus, 'open'>;

export const REVIEW_REASONS: readonly ReviewReason[] = ['low_groundedness', 'down', 'handoff'];
export const REVIEW_STATUSES: readonly ReviewStatus[] = ['open', 'good', 'bad', 'corrected'];

export interface ReviewFlag {
  reason: ReviewReason;
  at: number;
  /** Who voted 👎 or asked for a human (platform user id, and name when known). */
  user?: { id: string; name?: string };
  /** Their comment (👎 reason form, handoff reason). */
  note?: string;
}

export interface ReviewPassage {
  id: string;
  title: string;
  location: string;
  /** The passage as the model saw it; absent when it has left the knowledge base since. */
  text?: string;
  /** The page changed (or disappeared) since the answer. */
  changed?: boolean;
}

export interface ReviewItem {
  /** Short stable id (from the answer's platform id), what `parley review` and the dashboard show. */
  id: string;
  platform: string;
  /** The platform id of the message answered. */
  answerId: string;
  conversation: string;
  /** Who asked (platform user id): `/parley forget` removes their items. */
  asker: { id: string; name?: string };
  profile: string;
  /** `platform:channel`. */
  channel: string;
  question: string;
  answer: string;
  /** How the answer was produced: model, faq, knowledge, cache, declined. */
  source: string;
  answeredAt: number;
  /** Groundedness (0–1) of a model answer with passages. */
  groundedness?: number;
  unsupported: { text: string; inventedNumbers: string[] }[];
  passages: ReviewPassage[];
  flags: ReviewFlag[];
  /** When it was last flagged (the timeline's time). */
  flaggedAt: number;
  status: ReviewStatus;
  review?: { verdict: ReviewVerdict; by: string; at: number; note?: string; faq?: { file: string; id: string } };
}

const TIMELINE = 'review';

export function reviewId(platform: string, answerId: string): string {
  return sha256(`${platform}:${answerId}`).slice(0, 10);
}

export class ReviewQueue {
  private readonly items: Keyv<ReviewItem>;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly retentionMs: () => number,
  ) {
    this.items = store.namespace<ReviewItem>('review');
  }

  get(id: string): Promise<ReviewItem | undefined> {
    return this.items.get(id);
  }

  /**
   * Changes one item (read-modify-write, serialised here and locked across processes). `change` returns the new
   * item, or undefined to delete it; `touch` moves it to the top of the timeline (a new flag).
   */
  update(id: string, change: (item: ReviewItem | undefined) => ReviewItem | undefined, o: { touch?: boolean } = {}): Promise<ReviewItem | undefined> {
    // The bot flags items while `parley review` or the dashboard (maybe another process or
    // instance) marks them: each read-modify-write holds the item in the store.
    const run = this.chain.then(() =>
      exclusive(this.store, `review:${id}`, async () => {
        const next = change(await this.items.get(id));
        if (!next) {
          await this.items.delete(id);
          return undefined;
        }
        const ttl = this.retentionMs();
        await this.items.set(id, next, ttl);
        if (o.touch) await this.store.addToTimeline(TIMELINE, id, next.flaggedAt, ttl);
        return next;
      }),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Items flagged between `since` and `until`, newest first. */
  async flagged(since: number, until: number): Promise<ReviewItem[]> {
    const entries = await this.store.timeline(TIMELINE, since, until);
    const items = await Promise.all(entries.reverse().map((e) => this.items.get(e.member)));
    return items.filter((i): i is ReviewItem => i !== undefined);
  }

  /** Resolves once every change started so far has been written. */
  async idle(): Promise<void> {
    await this.chain;
  }
}
