import type { ConversationKey, IncomingMessage } from '../kernel/types.js';
import type { Middleware, TurnContext, TurnResult } from './pipeline.js';

/** A listener may return its work; `drain()` (and so shutdown) waits for it before the store closes. */
export type TurnListener = (result: TurnResult) => void | Promise<unknown>;
export type MessageListener = (message: IncomingMessage) => void;

/** A `/parley <name> …` sub-command, answered by the feature that owns it. */
export interface ParleyCommand {
  name: string;
  /** One line for `/parley help`. */
  help: string;
  /** Sets `ctx.answer` (the turn is never remembered). */
  run(ctx: TurnContext, args: string[]): Promise<void>;
}

/**
 * What a feature adds to the engine, all optional: one object per feature, installed from the
 * ordered list in src/features.ts (grammY's composers, Hono's middleware: the order is the list's).
 */
export interface Feature {
  readonly name: string;
  /** Runs before the model, in list order; not calling `next()` answers the turn. */
  readonly middleware?: readonly Middleware[];
  /** `/parley` sub-commands (the commands feature dispatches them). */
  readonly commands?: readonly ParleyCommand[];
  /** After every turn (ledger, analytics, metrics, alerts). */
  readonly onTurn?: TurnListener;
  /** For every message accepted, before it is queued. */
  readonly onMessage?: MessageListener;
  /** Applied to the model's text before it is shown (partial and final), in list order. */
  readonly outputTransform?: (text: string) => string;
  /**
   * Turns to skip entirely (no reply opened, no typing shown, nothing stored): a thread handed
   * to a human. Checked before the reply opens; a failure answers as usual.
   */
  readonly quiet?: (message: IncomingMessage, conversation: ConversationKey) => Promise<boolean>;
}
