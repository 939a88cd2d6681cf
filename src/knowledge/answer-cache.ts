import type Keyv from 'keyv';
import type { FinalReply } from '../kernel/adapter.js';
import type { Logger } from '../kernel/logger.js';
import { describe } from '../kernel/errors.js';
import type { Store } from '../store/store.js';
import { sha256, words } from './analyzer.js';
import { PrivacyIndex } from '../store/person-index.js';

/**
 * Answers to repeated identical questions, keyed by profile + knowledge version + the
 * normalized question. A knowledge edit changes the version, so stale answers are never
 * served (they simply expire). Only first questions of a thread are cached: with thread
 * context the same words can ask something else.
 */
export class AnswerCache {
  private readonly kv: Keyv<FinalReply>;
  private readonly index: PrivacyIndex;
  constructor(
    store: Store,
    private readonly o: { log: Logger },
  ) {
    // Not 'answers': the support desk keeps its answer records there.
    this.kv = store.namespace<FinalReply>('answer-cache');
    this.index = new PrivacyIndex(store);
  }

  key(profile: string, version: string, question: string): string {
    return sha256(`${profile}\n${version}\n${words(question).join(' ')}`);
  }

  async get(key: string): Promise<FinalReply | undefined> {
    try {
      return await this.kv.get(key);
    } catch (err) {
      this.o.log.warn({ err: describe(err) }, 'answer cache read failed; asking the model');
      return undefined;
    }
  }

  /** `ttlMs` per answer, from the settings of the turn: a config reload changes the lifetime of what is cached next. */
  async set(key: string, answer: FinalReply, ttlMs: number, askedBy?: { person: string; conversation: string }): Promise<void> {
    try {
      await this.kv.set(key, answer, ttlMs);
      // Derived from the asker's question (it may echo it): deleted with their words.
      if (askedBy) await this.index.note(askedBy.person, askedBy.conversation, [{ ns: 'answer-cache', key, ttlMs }]);
    } catch (err) {
      this.o.log.warn({ err: describe(err) }, 'answer cache write failed');
    }
  }
}

/** An answer shorter than this says too little to be served to other askers (a one-word reply scored 1 by default). */
export const MIN_CACHED_ANSWER_WORDS = 5;

/**
 * The one rule for what may be cached: a whole model answer (not cut, declined, degraded or an
 * error), of some length, and, when it was scored against passages, scored on at least one judged
 * sentence and at least `minGroundedness` (the review queue's threshold).
 */
export function cacheableAnswer(answer: FinalReply | undefined, grounding: { score: number; judged?: number } | undefined, minGroundedness: number): boolean {
  if (!answer || answer.source !== 'model' || answer.incomplete || answer.silent) return false;
  // Words, or characters for scripts written without spaces (Chinese, Japanese).
  const words = (answer.text.match(/[\p{L}\p{N}]+/gu) ?? []).length;
  if (words < MIN_CACHED_ANSWER_WORDS && answer.text.replace(/\s/g, '').length < MIN_CACHED_ANSWER_WORDS * 4) return false;
  if (grounding && (grounding.judged === 0 || grounding.score < minGroundedness)) return false;
  return true;
}
