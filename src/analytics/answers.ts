import type Keyv from 'keyv';
import type { Grounding, GroundingPassage, TurnResult } from '../engine/pipeline.js';
import type { Store } from '../store/store.js';
import type { AnswerPlace } from '../analytics/support-analytics.js';
import { PrivacyIndex } from '../store/person-index.js';

/**
 * Every rateable answer, by answer id (the platform id of the message answered), so a click
 * or a reaction days later still finds its conversation, profile, asker and question.
 */
export const ANSWER_TTL_MS = 30 * 86_400_000; // feedback on month-old answers is not attributed

export interface AnswerRecord extends AnswerPlace {
  platform: string;
  answerId: string;
  workspace: string;
  thread: string;
  asker: { id: string; name?: string };
  source: string;
  at: number;
  /** The answer as shown (a 👎 or a handoff days later puts it in the review queue). */
  text: string;
  /** Passages without their text (looked up again when the answer is queued, to keep records small). */
  grounding?: Omit<Grounding, 'passages'> & { passages: Omit<GroundingPassage, 'text'>[] };
}

export type Vote = { vote: 'up' | 'down'; reason?: string; at: number };

export class AnswerStore {
  private readonly answers: Keyv<AnswerRecord>;
  private readonly votes: Keyv<Vote>;
  private readonly index: PrivacyIndex;

  constructor(store: Store) {
    this.answers = store.namespace<AnswerRecord>('answers');
    this.votes = store.namespace<Vote>('votes');
    this.index = new PrivacyIndex(store);
  }

  /** The store key of an answer's record (what the privacy index points to). */
  static keyOf(platform: string, answerId: string): string {
    return `${platform}:${answerId}`;
  }

  async remember(r: TurnResult, place: AnswerPlace): Promise<AnswerRecord> {
    const m = r.message;
    const record: AnswerRecord = {
      ...place,
      platform: m.platform,
      answerId: m.id,
      workspace: m.workspace,
      thread: m.thread,
      asker: { id: m.user.id, name: m.user.name },
      source: r.source,
      at: r.finishedAt,
      text: r.text,
      grounding: r.grounding && { ...r.grounding, passages: r.grounding.passages.map(({ text: _text, ...ref }) => ref) },
    };
    await this.answers.set(`${m.platform}:${m.id}`, record, ANSWER_TTL_MS);
    return record;
  }

  get(platform: string, answerId: string): Promise<AnswerRecord | undefined> {
    return this.answers.get(`${platform}:${answerId}`);
  }

  voteOf(a: AnswerRecord, user: string): Promise<Vote | undefined> {
    return this.votes.get(`${a.platform}:${a.answerId}:${user}`);
  }

  async setVote(a: AnswerRecord, user: string, vote: Vote): Promise<void> {
    const key = `${a.platform}:${a.answerId}:${user}`;
    await this.votes.set(key, vote, ANSWER_TTL_MS);
    // A 👎 reason is the voter's words: indexed under them, for deletion.
    if (vote.reason !== undefined) await this.index.note(`${a.platform}:${user}`, a.conversation, [{ ns: 'votes', key, ttlMs: ANSWER_TTL_MS }]);
  }
}
