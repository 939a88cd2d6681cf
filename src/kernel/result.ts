import type { Citation, FinalReply } from './adapter.js';
import type { ConversationKey, IncomingMessage, Usage } from './types.js';

/** What one turn produced: what `Deliver` resolves with, and what analytics, metrics and alerts record. */
export interface TurnResult {
  conversation: ConversationKey;
  message: IncomingMessage;
  profile: string;
  question: string;
  text: string;
  source: FinalReply['source'];
  citations: Citation[];
  model?: string;
  /** The model's tokens; `estimated` when counted locally (the server never reported them). */
  usage?: Usage;
  /** The model's own finish reason (`stop`, `length`, …), when it finished. */
  finishReason?: string;
  /** The answer is not whole (cut by max_tokens, a failure mid-answer, a shutdown): never cached. */
  incomplete?: boolean;
  /** Error code when the model failed (the reply then carries a note). */
  error?: string;
  startedAt: number;
  firstTokenAt?: number;
  /** The model's own time to first token (from its call starting), when the model answered. */
  modelFirstTokenMs?: number;
  firstVisibleAt?: number;
  finishedAt: number;
  updates: number;
  /** How well a model answer held to the passages it was given; only for model answers with passages (issue 12). */
  grounding?: Grounding;
}

/** Set by the knowledge feature as `ctx.state.grounding`; the engine carries it into TurnResult. */
export interface Grounding {
  /** Share of the answer's judged sentences the passages back (0–1). */
  score: number;
  /** Sentences judged; 0 means the score says nothing (a one-word answer scores 1). */
  judged?: number;
  /** The passages the model was given, in prompt order. */
  passages: GroundingPassage[];
  /** Sentences the passages do not back, with the numbers in them that no passage has. */
  unsupported: { text: string; inventedNumbers: string[] }[];
}

export interface GroundingPassage {
  /** Opaque passage key (`source:path#anchor`). */
  id: string;
  /** Knowledge source name and path inside it (the page). */
  source: string;
  path: string;
  title: string;
  location: string;
  /** Content hash: tells a reviewer whether the page changed since the answer. */
  hash: string;
  text: string;
}
