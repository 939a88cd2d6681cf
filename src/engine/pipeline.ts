import type { Logger } from '../kernel/logger.js';
import type { Citation, FinalReply, ReplySurface } from '../kernel/adapter.js';
import type { Profile } from '../config/profile.js';
import type { ConversationKey, IncomingMessage, SideCall, Turn, Usage } from '../kernel/types.js';

/**
 * One turn of a conversation as it moves through the middleware (grammY's idea: middleware
 * over a context). Features plug in as middleware: routing sets `profile`, knowledge adds
 * `context` and `citations`, guardrails rewrite `question` or answer with a refusal, the FAQ
 * answers directly. Calling `next()` continues toward the model; not calling it ends the turn
 * with `ctx.answer` (which must then be set).
 */
export interface TurnContext {
  /** The message being answered (the last one when several were merged). */
  readonly message: IncomingMessage;
  /** Every message this turn answers, oldest first. */
  readonly batch: readonly IncomingMessage[];
  readonly conversation: ConversationKey;
  readonly log: Logger;
  readonly surface: ReplySurface;
  /** What the model is asked (merged, possibly redacted); also what is stored as the user's turn. */
  question: string;
  profile: Profile;
  /** Earlier turns of this conversation, oldest first. */
  history: Turn[];
  /** Extra system sections for the prompt (retrieved passages, rules), most important first. */
  context: string[];
  /** Images sent with the question (only to vision-capable models; guardrails decide). */
  images: PromptImage[];
  citations: Citation[];
  /** Short notes shown under the answer (e.g. "a token was removed from your question"). */
  notices: string[];
  /** An answer given without the model (FAQ, refusal, help). */
  answer?: FinalReply;
  /** Whether this turn is stored in history (refusals usually are not). */
  remember: boolean;
  /** What features pass each other during this turn: typed fields each feature declares (see TurnState). */
  readonly state: TurnState;
}

/**
 * Per-turn values features hand each other, one field per feature, typed (Hono's
 * ContextVariableMap, grammY's context flavors). A feature declares its fields beside its code:
 * `declare module '../engine/pipeline.js' { interface TurnState { knowledge?: KnowledgeTrace } }`.
 */
export interface TurnState {
  /** Set by the knowledge middleware on model answers with passages; the engine carries it into TurnResult. */
  grounding?: Grounding;
  /** Model calls features made for this turn besides the answer (query rewriting); the engine carries them into TurnResult, where usage is booked. */
  sideCalls?: SideCall[];
}

export interface PromptImage {
  name: string;
  contentType: string;
  data: Buffer;
}

export type Middleware = (ctx: TurnContext, next: () => Promise<void>) => Promise<void>;

export type { TurnResult, Grounding, GroundingPassage } from '../kernel/adapter.js';
import type { Grounding } from '../kernel/adapter.js';

export function compose(middleware: Middleware[], terminal: (ctx: TurnContext) => Promise<void>): (ctx: TurnContext) => Promise<void> {
  return (ctx) => {
    let index = -1;
    // Not an async function: each level hands on its middleware's promise instead of awaiting it
    // in a frame of its own. A turn waiting for the model holds one suspended frame per
    // middleware, not two (per open stream: ~12 fewer frames, promises and contexts; issue 19).
    const dispatch = (i: number): Promise<void> => {
      try {
        if (i <= index) throw new Error('next() called more than once');
        index = i;
        const mw = middleware[i];
        return mw ? mw(ctx, () => dispatch(i + 1)) : terminal(ctx);
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}
