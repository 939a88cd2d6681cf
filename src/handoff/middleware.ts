import type { Middleware } from '../engine/pipeline.js';
import { describe } from '../kernel/errors.js';
import { HANDOFF_TEXTS, isResume, type HandoffService } from './service.js';

export { isResume } from './service.js';

/**
 * In a handed-off thread the bot stays quiet until a person says `resume`. The engine's `quiet`
 * gate (HandoffService.isQuiet) skips such turns before a reply even opens; this middleware
 * handles `resume`, and answers slash commands there with a short note (their reply is already
 * pending on the platform). A store outage lets the bot answer (fail open).
 */
export function quietAfterHandoff(handoff: HandoffService): Middleware {
  // The usual case (the quiet gate already checked this turn) hands next() on without an async
  // frame, which an answer streaming would hold (issue 19).
  const check: Middleware = async (ctx, next) => {
    let handedOff = false;
    try {
      handedOff = (await handoff.stateOf(ctx.conversation)) !== undefined;
    } catch (err) {
      ctx.log.warn({ err: describe(err) }, 'handoff state unavailable; answering');
    }
    if (!handedOff) return next();
    ctx.remember = false;
    if (isResume(ctx.message.text)) {
      await handoff.resume(ctx.conversation);
      ctx.log.info({ user: ctx.message.user.id }, 'thread resumed after handoff');
      ctx.answer = { text: HANDOFF_TEXTS.resumed, source: 'command' };
      return;
    }
    if (ctx.message.trigger === 'slash_command') {
      ctx.answer = { text: HANDOFF_TEXTS.quietNote, source: 'command' };
      return;
    }
    ctx.answer = { text: '', source: 'silent', silent: true };
  };
  return (ctx, next) => (handoff.answeringChecked(ctx.message) ? next() : check(ctx, next));
}

export const LOW_CONFIDENCE_OFFER = 'Would you like a person from the team to help? Press **Talk to a human** below.';

/**
 * Grounded profiles: when the knowledge base had nothing relevant, the "I don't know" comes
 * with the handoff offer (and the surface shows the "Talk to a human" button). Runs around
 * the knowledge middleware, so it sees its answer.
 */
export function offerHandoffWhenUnsure(handoff: HandoffService): Middleware {
  // Chained on next(), not awaited in an async function: a callback waits for the answer, not a
  // suspended frame (issue 19). A rejection passes through untouched, as with `await`.
  return (ctx, next) =>
    next().then(() => {
      const answer = ctx.answer;
      if (!answer || answer.source !== 'declined' || ctx.profile.answerMode !== 'grounded') return;
      if (ctx.state.knowledge?.relevant !== 0) return;
      const settings = handoff.settingsFor(ctx.profile.name);
      if (!settings?.lowConfidenceOffer || (!settings.destination && !settings.webhook)) return;
      ctx.answer = { ...answer, text: `${answer.text}\n\n${LOW_CONFIDENCE_OFFER}`, offerHandoff: true };
    });
}
