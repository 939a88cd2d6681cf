/** Platform-neutral shapes shared by every adapter and the engine. No platform SDK type appears here. */

export type PlatformName = 'slack' | 'discord' | 'console' | (string & {});

/** Why a message reached the bot. */
export type Trigger = 'mention' | 'direct_message' | 'thread_follow_up' | 'slash_command';

export interface Attachment {
  name: string;
  /** MIME type as the platform reports it, e.g. `text/plain`, `image/png`. */
  contentType: string;
  sizeBytes: number;
  url?: string;
  /** Loads the bytes (with the platform's auth); adapters supply it where they can. */
  load?: () => Promise<Buffer>;
}

export interface IncomingMessage {
  platform: PlatformName;
  /** Slack team id, Discord guild id (or `@dm`), `local` for the console. */
  workspace: string;
  channel: string;
  /** Thread root id; the same as `id` when the message starts a new thread. */
  thread: string;
  /** Platform message id (Slack `ts`, Discord snowflake). */
  id: string;
  user: { id: string; name?: string; roles?: string[] };
  text: string;
  attachments: Attachment[];
  trigger: Trigger;
  /** Slash command name without the slash, when `trigger` is `slash_command`. */
  command?: string;
  /** Platform event time (ms since epoch). */
  receivedAt: number;
  /** Whether replies to this message can be private to the asker. */
  ephemeral?: boolean;
  /**
   * A profile the sender asked for by name (the HTTP API's `profile`); routing honours it
   * before its rules. Adapters only set it where the caller is trusted to choose.
   */
  profile?: string;
}

/**
 * Conversations are keyed by platform + workspace + channel + thread, so two workspaces
 * never share history even when their channel ids collide.
 * Example: `slack:T01:C02:1712345678.000100`.
 */
export type ConversationKey = string & { readonly __brand: 'ConversationKey' };

export function conversationKey(m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'thread'>): ConversationKey {
  const part = (s: string) => s.replaceAll('%', '%25').replaceAll(':', '%3A');
  return [m.platform, m.workspace, m.channel, m.thread].map(part).join(':') as ConversationKey;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /** Counted locally because the server never reported usage (e.g. a stream cut mid-way). */
  estimated?: boolean;
}

/** A model call a feature made for a turn besides the answer (a query rewrite): booked with the turn in the ledger, budgets and metrics. */
export interface SideCall {
  /** What it was for, e.g. `query-rewrite`. */
  purpose: string;
  model: string;
  usage: Usage;
  latencyMs: number;
}

/** One stored turn of a conversation. */
export interface Turn {
  role: 'user' | 'assistant';
  content: string;
  at: number;
  /** The asker, for user turns. */
  user?: string;
  /** Model and usage, for assistant turns. */
  model?: string;
  usage?: Usage;
}

/**
 * What someone did with one answer: a 👍/👎 (button or emoji reaction), "Talk to a human",
 * or "resume" after a handoff. Adapters build it from their own events (button clicks,
 * reactions, modal submissions); the answer is named by `answerId`, the platform id of the
 * message that was answered (unique per platform).
 */
export interface FeedbackEvent {
  platform: PlatformName;
  answerId: string;
  kind: 'up' | 'down' | 'handoff' | 'resume';
  /** Why, for a 👎 with a reason. */
  reason?: string;
  user: { id: string; name?: string };
  at: number;
  /** A link to the answer's thread, where the platform has one (for handoff messages). */
  link?: string;
  /** Whether it came from an emoji reaction (false/absent: a button). */
  viaReaction?: boolean;
  /** Answers the person who acted: privately where the platform allows, else in the thread. */
  respond?: (text: string, o?: { public?: boolean }) => Promise<void>;
}
