import type Keyv from 'keyv';
import type { FinalReply } from '../kernel/adapter.js';
import type { Logger } from '../kernel/logger.js';
import { describe } from '../kernel/errors.js';
import type { Store } from '../store/store.js';
import { normalize, sha256 } from './text.js';

/**
 * Answers to repeated identical questions, keyed by profile + knowledge version + the
 * normalized question. A knowledge edit changes the version, so stale answers are never
 * served (they simply expire). Only first questions of a thread are cached: with thread
 * context the same words can ask something else.
 */
export class AnswerCache {
  private readonly kv: Keyv<FinalReply>;
  constructor(store: Store, private readonly o: { log: Logger }) {
    // Not 'answers': the support desk keeps its answer records there.
    this.kv = store.namespace<FinalReply>('answer-cache');
  }

  key(profile: string, version: string, question: string): string {
    return sha256(`${profile}\n${version}\n${normalize(question)}`);
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
  async set(key: string, answer: FinalReply, ttlMs: number): Promise<void> {
    try {
      await this.kv.set(key, answer, ttlMs);
    } catch (err) {
      this.o.log.warn({ err: describe(err) }, 'answer cache write failed');
    }
  }
}
