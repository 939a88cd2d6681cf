import { BackgroundWork } from '../kernel/background.js';
import { RATEABLE_SOURCES } from '../kernel/adapter.js';
import type { Logger } from '../kernel/logger.js';
import type { TurnResult } from '../engine/pipeline.js';
import type { FeedbackEvent } from '../kernel/types.js';
import { describe } from '../kernel/errors.js';
import type { Store } from '../store/store.js';
import type { SupportAnalytics } from '../analytics/support-analytics.js';
import { HANDOFF_TEXTS, type HandoffService } from '../handoff/service.js';
import type { ReviewService } from '../review/service.js';
import { ANSWER_TTL_MS, AnswerStore } from '../analytics/answers.js';
import { ANALYTICS_RETENTION_MS, dayOf } from '../analytics/support-analytics.js';
import { PrivacyIndex } from '../store/person-index.js';

/**
 * The support desk: remembers every answer, turns feedback events (buttons, reactions) into
 * votes, resolutions and handoffs, and feeds the analytics. Platform-neutral: adapters call
 * `feedback(event)` (AdapterDeps.feedback) and the engine's turns arrive through `onTurn`.
 */
export const FEEDBACK_TEXTS = {
  up: 'Thanks for the feedback! 👍',
  down: 'Thanks, noted. If you still need help, press **Talk to a human**.',
  reason: 'Thanks, your comment was recorded.',
  unknown: "I don't have that answer on record any more, so I couldn't count this.",
  sameVote: 'Already counted, thanks!',
};

/** "thanks", "thank you!", "thx", "ty", "cheers", "merci", "great, thanks" — a short message, mostly gratitude. */
const THANKS =
  /^(?:(?:ok(?:ay)?|great|perfect|awesome|cool|nice|got it)[,!. ]+)?(?:thanks?(?: you| a lot| so much)?|thx|ty|cheers|merci|danke|gracias)\b[\s!.,:)🙏👍]*(?:(?:that|it) (?:helped|worked)[\s!.]*)?$/iu;

// A click right after the answer appears may come before the turn is recorded: wait up to ~3 s.
const ANSWER_LOOKUP_RETRIES = 12;
const ANSWER_LOOKUP_WAIT_MS = 250;

export function isThanks(text: string): boolean {
  return text.length <= 80 && THANKS.test(text.trim());
}

export class SupportDesk {
  readonly answers: AnswerStore;
  private readonly index: PrivacyIndex;
  private readonly pending: BackgroundWork;

  constructor(private readonly d: { store: Store; analytics: SupportAnalytics; handoff: HandoffService; review: ReviewService; log: Logger }) {
    this.answers = new AnswerStore(d.store);
    this.index = new PrivacyIndex(d.store);
    this.pending = new BackgroundWork((err) => d.log.error({ err: describe(err) }, 'recording support analytics failed'));
  }

  /** Register with `engine.onTurn`. */
  readonly onTurn = (r: TurnResult): Promise<unknown> => this.track(this.recordTurn(r));

  private async recordTurn(r: TurnResult): Promise<void> {
    // The answer first: its buttons are already showing, and a click looks it up.
    // Declined answers are kept too: in grounded profiles they carry the "Talk to a human" offer.
    const record = RATEABLE_SOURCES.has(r.source) || r.source === 'declined' ? await this.answers.remember(r, this.d.analytics.placeOf(r)) : undefined;
    // Where the asker's words went (the answer record, the day's question list), before anything else can fail: deletion finds them there.
    if (r.source !== 'command' && r.source !== 'silent') {
      const keys = [{ ns: 'analytics', key: `q:${dayOf(r.message.receivedAt)}`, ttlMs: ANALYTICS_RETENTION_MS }];
      if (record) keys.push({ ns: 'answers', key: AnswerStore.keyOf(record.platform, record.answerId), ttlMs: ANSWER_TTL_MS });
      // A failed index write is logged, not fatal: the figures still count.
      await this.index
        .note(`${r.message.platform}:${r.message.user.id}`, r.conversation, keys)
        .catch((err) => this.d.log.error({ err: describe(err) }, 'indexing an answer for deletion failed'));
    }
    // Answers the passages barely back go to the review queue (issue 12).
    const queued = record ? await this.toReview('queueing a weak answer', () => this.d.review.answered(record, r), false) : false;
    const thanks = isThanks(r.question);
    await this.d.analytics.recordTurn(r, { isThanks: thanks, queuedForReview: queued });
    if (thanks) await this.d.analytics.recordThanks(r.conversation, r.message.user.id);
  }

  /**
   * The answer a click refers to. The buttons appear when the reply completes, a moment before
   * the engine reports the turn and the answer is stored, so a very quick click waits briefly.
   */
  private async answerFor(e: FeedbackEvent) {
    for (let attempt = 0; ; attempt++) {
      const answer = await this.answers.get(e.platform, e.answerId);
      if (answer || attempt >= ANSWER_LOOKUP_RETRIES) return answer;
      await new Promise((r) => setTimeout(r, ANSWER_LOOKUP_WAIT_MS));
    }
  }

  /** For AdapterDeps.feedback: never throws (a failure is logged and the person told). */
  readonly feedback = async (e: FeedbackEvent): Promise<void> => {
    const p = this.handle(e).catch(async (err) => {
      this.d.log.error({ err: describe(err), platform: e.platform, kind: e.kind }, 'handling feedback failed');
      await e.respond?.('Something went wrong while recording that. Please try again.').catch(() => undefined);
    });
    this.track(p);
    await p;
  };

  private async handle(e: FeedbackEvent): Promise<void> {
    const answer = await this.answerFor(e);
    if (!answer) {
      if (!e.viaReaction) await e.respond?.(FEEDBACK_TEXTS.unknown);
      return;
    }
    const log = this.d.log.child({ platform: e.platform, conversation: answer.conversation });
    switch (e.kind) {
      case 'up':
      case 'down': {
        const previous = await this.answers.voteOf(answer, e.user.id);
        await this.answers.setVote(answer, e.user.id, { vote: e.kind, reason: e.reason ?? previous?.reason, at: e.at });
        await this.d.analytics.recordVote(answer, e.kind, previous?.vote);
        const vote = e.kind;
        await this.toReview('queueing a 👎', () => this.d.review.voted(answer, e.user, vote, e.reason ?? previous?.reason), undefined);
        log.info(
          { vote: e.kind, changed: previous !== undefined && previous.vote !== e.kind, reaction: e.viaReaction === true, reasonGiven: e.reason !== undefined },
          'feedback',
        );
        if (e.viaReaction) return;
        if (e.reason !== undefined) await e.respond?.(FEEDBACK_TEXTS.reason);
        else await e.respond?.(previous?.vote === e.kind ? FEEDBACK_TEXTS.sameVote : FEEDBACK_TEXTS[e.kind]);
        return;
      }
      case 'handoff': {
        const outcome = await this.d.handoff.start(answer, e.user, e.link, e.reason);
        log.info({ outcome }, 'handoff requested');
        if (outcome === 'handed_off') {
          await this.d.analytics.recordHandoff(answer);
          await this.toReview('queueing a handed-off answer', () => this.d.review.handedOff(answer, e.user, e.reason), undefined);
          await e.respond?.(HANDOFF_TEXTS.requested, { public: true });
        } else
          await e.respond?.(
            outcome === 'already' ? HANDOFF_TEXTS.already : outcome === 'not_delivered' ? HANDOFF_TEXTS.notDelivered : HANDOFF_TEXTS.noDestination,
          );
        return;
      }
      case 'resume': {
        const resumed = await this.d.handoff.resume(answer.conversation);
        log.info({ resumed }, 'resume requested');
        await e.respond?.(resumed ? HANDOFF_TEXTS.resumed : HANDOFF_TEXTS.notHandedOff, { public: resumed });
        return;
      }
    }
  }

  /** The review queue comes second: a failure there is logged, and the vote, handoff or figures still count. */
  private async toReview<T>(what: string, fn: () => Promise<T>, otherwise: T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.d.log.error({ err: describe(err) }, `${what} for review failed`);
      return otherwise;
    }
  }

  /** Resolves when every recording and handoff started so far has finished. */
  async idle(): Promise<void> {
    await this.pending.idle();
    await this.d.analytics.idle();
    await this.d.review.idle();
    await this.d.handoff.idle();
  }

  private track(p: Promise<unknown>): Promise<unknown> {
    return this.pending.track(p);
  }
}
