import type { ConversationKey, IncomingMessage, PlatformName, SideCall, Usage } from './types.js';

/**
 * The contract between the engine and a platform. Required members are few; optional
 * capabilities (native streaming, typing) are checked by the engine and the renderer,
 * which fall back when they are absent.
 */
export interface PlatformAdapter {
  readonly platform: PlatformName;
  /** Connects and starts delivering normalized messages to `deliver`. Resolves once ready. */
  start(deliver: Deliver): Promise<void>;
  /** Stops taking new messages and disconnects. */
  stop(): Promise<void>;
  /** Opens the place where the answer to `message` is written. */
  openReply(message: IncomingMessage): Promise<ReplySurface>;
  /** Optional: throws when the platform connection is not usable (for /readyz). */
  health?(): Promise<void>;
  /**
   * Optional: posts a standalone message to a channel (alerts, handoffs). Mentions stay inert,
   * except `ping`: the one group (Slack user group id) or role (Discord role id) to notify.
   */
  announce?(channel: string, text: string, options?: { ping?: string }): Promise<void>;
  /** Optional: checks credentials and permissions without starting (for `parley doctor`). */
  diagnose?(): Promise<Diagnosis[]>;
  /**
   * Optional: reopens a reply from what its surface's `describe()` returned, after a restart,
   * so an interrupted answer can be finalised (crash recovery).
   */
  resumeReply?(location: unknown): Promise<ReplySurface>;
}

/** One line of `parley doctor`: what was checked, whether it passed, and how to fix it. */
export interface Diagnosis {
  check: string;
  ok: boolean;
  /** Works, with a limit worth knowing (shown with its fix, but not a failure). */
  warning?: boolean;
  detail?: string;
  fix?: string;
}

/**
 * Hands a message to the engine; resolves with the turn's result once it is answered (undefined
 * when it was not taken, e.g. while stopping). Chat adapters need not wait for it.
 */
export type Deliver = (message: IncomingMessage) => Promise<TurnResult | undefined>;

/** An opaque reference to one posted message (Slack `ts`, Discord snowflake, a console line). */
export interface MessageRef {
  id: string;
}

/**
 * Content of an outgoing request. A function is read when the request actually leaves the
 * pacer, so an edit that waited in the queue still carries the newest text.
 */
export type Content = string | (() => string);

export function resolveContent(c: Content): string {
  return typeof c === 'function' ? c() : c;
}

export interface SendOptions {
  /** The last update of this message: paced ahead of progress updates. */
  final: boolean;
  /**
   * Progress updates: aborted when the reply finishes while this update still waits to be sent.
   * Its content (read when it leaves) is then the final text, so a surface pacing it may send it
   * as a final update instead of holding it like progress (the renderer waits for it before
   * finishing).
   */
  hurry?: AbortSignal;
  /**
   * Read when the request leaves, like the content: whether the message then shows the end of
   * the reply's final text (its last message), so a surface can finish the answer in the same
   * request (Discord: the feedback buttons go out with the final text, not in an extra edit).
   */
  last?: () => boolean;
}

/**
 * Where one answer is written. The renderer drives it: `post` creates the first message and
 * any continuation past `maxLength`, `edit` replaces a message's text. Text is Markdown as the
 * model wrote it; the surface converts it to the platform's format and makes mentions inert.
 * Implementations send through the platform's paced client and turn 429s into RateLimitError.
 */
export interface ReplySurface {
  /** Longest text one message can hold, in source characters (leave room for formatting). */
  readonly maxLength: number;
  post(content: Content, options: SendOptions): Promise<MessageRef>;
  edit(ref: MessageRef, content: Content, options: SendOptions): Promise<void>;
  /** Optional: removes a message no longer needed (when the final text needs fewer messages). */
  remove?(ref: MessageRef): Promise<void>;
  /** Optional: shows that the bot is working (typing indicator, "thinking" status) until the first text. */
  showTyping?(): Promise<void>;
  /** Optional: a platform-native stream (Slack chat.startStream, the terminal). */
  openStream?(): Promise<NativeStream>;
  /** Optional: a private note to the asker only (refusals, notices), where the platform allows. */
  notify?(text: string): Promise<void>;
  /**
   * Optional: the final text as this platform shows it, e.g. with its own citations footer.
   * Applied once before the final delivery, so the decoration costs no extra request.
   */
  decorate?(final: FinalReply): string;
  /** Optional: called once with the exact final text and the answer's metadata after delivery. */
  complete?(final: FinalReply, refs: MessageRef[]): Promise<void>;
  /**
   * Optional: where this reply lives, as JSON (channel, thread…), for `resumeReply` after a
   * restart; undefined until that is known (e.g. before the first message).
   */
  describe?(): unknown;
}

export interface FinalReply {
  text: string;
  /** Where the answer came from, for labels and analytics. */
  source: 'model' | 'faq' | 'knowledge' | 'declined' | 'error' | (string & {});
  citations?: Citation[];
  /** Nothing is posted (the thread was handed to a human); the turn ends quietly. */
  silent?: boolean;
  /** Offer "Talk to a human" with this answer even though it is not a real answer (low confidence). */
  offerHandoff?: boolean;
  /**
   * The answer was cut short (the model failed mid-answer, or a shutdown interrupted it) and
   * `text` ends with the engine's note saying so: show it, but never cache or reuse it as an answer.
   */
  incomplete?: boolean;
  /**
   * With `incomplete`: how many leading characters of `text` are the answer itself; the engine's
   * note follows. Counts the text as the engine set it (before notices, transforms, decoration).
   */
  answerLength?: number;
}

/** Answer sources that get 👍/👎/"Talk to a human" actions. */
export const RATEABLE_SOURCES: ReadonlySet<string> = new Set(['model', 'faq', 'knowledge', 'cache']);

export interface Citation {
  id: string;
  title: string;
  /** A link or a path. */
  location: string;
}

/**
 * A platform-native stream. `append` adds text; `stop` ends the stream with `finalText` as
 * the message's exact content. When the platform refuses or loses the stream, methods throw
 * StreamUnavailableError and the renderer continues with post/edit on `ref` (if the stream
 * already shows a message) so no text is lost or repeated.
 */
export interface NativeStream {
  /** Longest text the stream's message can hold. */
  readonly maxLength: number;
  /** The streamed message, once it exists. */
  readonly ref?: MessageRef;
  append(text: string): Promise<void>;
  stop(finalText: string): Promise<void>;
}

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
  /** Model calls made for this turn besides the answer (query rewriting), each under its own model. */
  sideCalls?: SideCall[];
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

/** Every model call of a turn, the answer's first and then the side calls, each under the model that made it. */
export function modelCallsOf(r: TurnResult): { model?: string; usage: Usage }[] {
  return [...(r.usage ? [{ model: r.model, usage: r.usage }] : []), ...(r.sideCalls ?? []).map((c) => ({ model: c.model, usage: c.usage }))];
}

/** A turn's tokens over all its model calls: what an API caller is told it used and what its key's budget is charged. */
export function totalUsage(r: TurnResult): Usage | undefined {
  const calls = modelCallsOf(r);
  if (!calls.length) return undefined;
  return {
    promptTokens: calls.reduce((n, c) => n + c.usage.promptTokens, 0),
    completionTokens: calls.reduce((n, c) => n + c.usage.completionTokens, 0),
    ...(calls.some((c) => c.usage.estimated) && { estimated: true }),
  };
}
