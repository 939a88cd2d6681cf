import type { Logger } from './logger.js';
import type { FinalReply, PlatformAdapter, ReplySurface } from './adapter.js';
import { HandlerError, LlmError, describe } from './errors.js';
import { compose, type Grounding, type Middleware, type TurnContext, type TurnResult } from './pipeline.js';
import type { Profile } from './profile.js';
import { buildPrompt, QuestionTooLongError } from './prompt.js';
import { ConversationQueue } from './conversation-queue.js';
import type { ConversationLock } from './conversation-lock.js';
import type { InflightJournal } from './inflight.js';
import { conversationKey, type ConversationKey, type IncomingMessage, type Turn, type Usage } from './types.js';
import type { ChatModelClient } from '../llm/client.js';
import type { HistoryStore } from '../store/history.js';
import { ProgressiveRenderer } from '../render/renderer.js';

export interface EngineDeps {
  history: HistoryStore;
  /** Serialises turns of one conversation across instances (absent: this process only). */
  lock?: ConversationLock;
  /** Records replies in flight so a restart can finalise them (crash recovery). */
  journal?: InflightJournal;
  /** Absent when no model is configured. */
  llm?: ChatModelClient;
  /** The profile used unless a middleware picks another. */
  profile: Profile;
  log: Logger;
  /** Applied to the model's text before it is shown (partial and final). */
  outputTransform?: (text: string) => string;
  /**
   * Turns to skip entirely (no reply opened, no typing shown, nothing stored): a thread handed
   * to a human. Checked before the reply opens; a failure answers as usual.
   */
  quiet?: (message: IncomingMessage, conversation: ConversationKey) => Promise<boolean>;
}

/** A listener may return its work; `drain()` (and so shutdown) waits for it before the store closes. */
export type TurnListener = (result: TurnResult) => void | Promise<unknown>;
export type MessageListener = (message: IncomingMessage) => void;
export type ErrorHook = (err: HandlerError, message: IncomingMessage) => void;

/** Notes that end a reply when the model fails; they say what happened and what to do. */
export const NOTES = {
  cutOff: (reason: string) => `\n\n_⚠️ The answer was cut off (${reason}). Ask again to get the rest._`,
  failed: (reason: string) => `⚠️ I could not get an answer from the model (${reason}). Please try again in a moment.`,
  internal: '⚠️ Something went wrong while answering. Please try again; if it keeps happening, tell an administrator.',
  interrupted: '\n\n_⚠️ Interrupted: Parley is restarting. Please ask again in a moment._',
  noModel: 'No model is configured, so I cannot answer yet. An administrator needs to set OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL.',
  tooLong: (e: QuestionTooLongError) =>
    `Your question is too long for the model (${e.questionTokens} tokens; it accepts about ${e.budgetTokens}). Please shorten it or split it into parts.`,
};

/**
 * The conversation engine: every adapter delivers messages here. Per conversation, one turn
 * at a time (later messages wait and are merged); each turn runs the middleware, then the
 * model, streaming into the adapter's reply surface through the progressive renderer, and
 * stores the turn in history.
 */
export class Engine {
  private readonly middleware: Middleware[] = [];
  private readonly listeners: TurnListener[] = [];
  private readonly messageListeners: MessageListener[] = [];
  /** Turns in progress, so a shutdown past its deadline can cut them short cleanly. */
  private readonly inflight = new Set<AbortController>();
  /** Work turn listeners are still doing (ledger, analytics writes). */
  private readonly listenerWork = new Set<Promise<unknown>>();
  private errorHook: ErrorHook;
  private readonly queue: ConversationQueue;
  private readonly adapters = new WeakMap<IncomingMessage, PlatformAdapter>();
  private readonly results = new WeakMap<IncomingMessage, TurnResult>();

  constructor(private readonly deps: EngineDeps) {
    this.errorHook = (err, message) =>
      deps.log.error({ err: err.cause ?? err, code: err.code, platform: message.platform, conversation: err.conversation }, 'handling a message failed');
    this.queue = new ConversationQueue(
      (batch) => this.turn(batch),
      (err, batch) => {
        const last = batch[batch.length - 1]!;
        this.errorHook(err instanceof HandlerError ? err : new HandlerError(conversationKey(last), err), last);
      },
    );
  }

  /** Adds middleware; runs in the order added, before the model. */
  use(...mw: Middleware[]): this {
    this.middleware.push(...mw);
    return this;
  }

  onTurn(listener: TurnListener): this {
    this.listeners.push(listener);
    return this;
  }

  /** Called for every message accepted, before it is queued (metrics, analytics). */
  onMessage(listener: MessageListener): this {
    this.messageListeners.push(listener);
    return this;
  }

  /** The one place errors from handling messages end up (grammY's bot.catch). */
  catch(hook: ErrorHook): this {
    this.errorHook = hook;
    return this;
  }

  /** Accepts a message from `adapter`; resolves once it is queued (answered in the background). */
  deliver(adapter: PlatformAdapter, message: IncomingMessage): Promise<void> {
    void this.ask(adapter, message);
    return Promise.resolve();
  }

  /** Queues a message and resolves with the result of the turn that answered it. */
  async ask(adapter: PlatformAdapter, message: IncomingMessage): Promise<TurnResult | undefined> {
    this.adapters.set(message, adapter);
    for (const l of this.messageListeners) {
      try {
        l(message);
      } catch (err) {
        this.deps.log.error({ err }, 'message listener failed');
      }
    }
    await this.queue.enqueue(conversationKey(message), message);
    return this.results.get(message);
  }

  /** The stored history of a conversation. */
  historyOf(conversation: ConversationKey): Promise<Turn[]> {
    return this.deps.history.load(conversation);
  }

  get pending(): { active: number; waiting: number } {
    return { active: this.queue.active, waiting: this.queue.waiting };
  }

  /** Resolves when every accepted message has been answered. */
  async drain(): Promise<void> {
    await this.queue.drain();
    while (this.listenerWork.size) await Promise.all([...this.listenerWork]);
  }

  /**
   * Lets turns in progress finish for up to `deadlineMs`; then cuts the rest short (their
   * replies end with what was written and a note to ask again) and waits for them to settle.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), deadlineMs)));
    const outcome = await Promise.race([this.drain().then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.deps.log.warn({ turns: this.inflight.size }, 'shutdown deadline reached; interrupting replies in progress');
      for (const c of this.inflight) c.abort(new Error('shutdown'));
      await this.drain();
    }
  }

  private async turn(batch: IncomingMessage[]): Promise<void> {
    const message = batch[batch.length - 1]!;
    const adapter = this.adapters.get(message)!;
    const conversation = conversationKey(message);
    const log = this.deps.log.child({ platform: message.platform, conversation });
    const startedAt = Date.now();
    const abort = new AbortController();
    this.inflight.add(abort);
    const unlock = this.deps.lock ? await this.deps.lock.acquire(conversation) : undefined;
    try {
      await this.answerTurn(batch, adapter, conversation, log, startedAt, abort.signal);
    } finally {
      this.inflight.delete(abort);
      await unlock?.().catch((err) => log.warn({ err: describe(err) }, 'releasing the conversation lock failed'));
    }
  }

  private async answerTurn(
    batch: IncomingMessage[],
    adapter: PlatformAdapter,
    conversation: ConversationKey,
    log: Logger,
    startedAt: number,
    signal: AbortSignal,
  ): Promise<void> {
    const message = batch[batch.length - 1]!;
    if (this.deps.quiet && (await this.deps.quiet(message, conversation).catch(() => false))) {
      log.debug('quiet turn: the thread is handed to a human');
      return;
    }
    const surface = await adapter.openReply(message);
    surface.showTyping?.().catch((err) => log.debug({ err: describe(err) }, 'typing indicator failed'));

    let history: Turn[] = [];
    let loadedAt: number | undefined;
    try {
      const at = performance.now();
      history = await this.deps.history.load(conversation);
      loadedAt = at;
    } catch (err) {
      // A store outage costs this turn its context, not its answer.
      log.error({ err: describe(err) }, 'loading history failed; answering without it');
    }

    const ctx: TurnContext = {
      message,
      batch,
      conversation,
      log,
      surface,
      question: batch.map((m) => m.text).join('\n\n'),
      profile: this.deps.profile,
      history,
      context: [],
      images: [],
      citations: [],
      notices: [],
      remember: true,
      state: {},
    };
    const tracker = this.deps.journal?.track(`${conversation}:${message.id}`, message.platform, () => surface.describe?.());
    const renderer = new ProgressiveRenderer(surface, {
      log,
      transform: this.deps.outputTransform,
      onProgress: tracker && ((refs, text) => tracker.progress(refs, text)),
    });
    const outcome: Partial<TurnResult> = {};
    // The terminal step gets this turn's machinery directly (composing is one closure per turn),
    // keeping it off the context middleware sees.
    const run = compose(this.middleware, (c) => this.answerWithModel(c, { renderer, outcome, signal }));
    try {
      await run(ctx);
    } catch (err) {
      // The asker still gets a reply; the error goes to the one hook, with its conversation.
      this.errorHook(err instanceof HandlerError ? err : new HandlerError(conversation, err), message);
      ctx.answer = { text: NOTES.internal, source: 'error' };
    }

    // A middleware answered without the model, or the model step set the final answer.
    const final: FinalReply = ctx.answer ?? { text: NOTES.failed('no answer was produced'), source: 'error' };
    const text = final.silent ? '' : withNotices(final.text, ctx.notices);
    if (final.silent) {
      // A quiet turn (handed-off thread): nothing is posted; the surface only stops its typing.
      ctx.remember = false;
      await surface.complete?.({ ...final, text }, []).catch((err) => log.debug({ err: describe(err) }, 'completing a silent reply failed'));
    } else {
      try {
        await renderer.finish({ ...final, text, citations: final.citations ?? ctx.citations });
      } finally {
        await tracker?.done();
      }
    }

    const finishedAt = Date.now();
    if (ctx.remember && final.source !== 'error') {
      const turns: Turn[] = [
        { role: 'user', content: ctx.question, at: message.receivedAt, user: message.user.id },
        { role: 'assistant', content: final.text, at: finishedAt, model: outcome.model, usage: outcome.usage },
      ];
      try {
        // Turns are one at a time per conversation (queue and lock): what was loaded is still current.
        if (loadedAt !== undefined) await this.deps.history.appendAfter(conversation, history, loadedAt, ...turns);
        else await this.deps.history.append(conversation, ...turns);
      } catch (err) {
        log.error({ err: describe(err) }, 'saving history failed');
      }
    }
    const result: TurnResult = {
      conversation,
      message,
      profile: ctx.profile.name,
      question: ctx.question,
      text,
      source: final.source,
      citations: final.citations ?? ctx.citations,
      model: outcome.model,
      usage: outcome.usage,
      error: outcome.error,
      startedAt,
      firstTokenAt: outcome.firstTokenAt,
      modelFirstTokenMs: outcome.modelFirstTokenMs,
      firstVisibleAt: renderer.stats.firstVisibleAt,
      finishedAt,
      updates: renderer.stats.updates,
    };
    // Set by the knowledge middleware on model answers with passages (src/quality/groundedness.ts).
    const grounding = ctx.state.grounding as Grounding | undefined;
    if (grounding) result.grounding = grounding;
    for (const m of batch) this.results.set(m, result);
    log.info(
      { source: result.source, model: result.model, usage: result.usage, error: result.error, ms: finishedAt - startedAt, updates: result.updates },
      'answered',
    );
    for (const l of this.listeners) {
      try {
        const work = l(result);
        if (work) {
          const tracked: Promise<unknown> = work.catch((err) => log.error({ err }, 'turn listener failed')).finally(() => this.listenerWork.delete(tracked));
          this.listenerWork.add(tracked);
        }
      } catch (err) {
        log.error({ err }, 'turn listener failed');
      }
    }
  }

  /** The terminal step: the model streams into the renderer; sets `ctx.answer`. */
  private async answerWithModel(ctx: TurnContext, { renderer, outcome, signal }: TurnRun): Promise<void> {
    if (ctx.answer) return;
    const { profile } = ctx;
    if (!this.deps.llm || !profile.model) {
      ctx.answer = { text: NOTES.noModel, source: 'declined' };
      ctx.remember = false;
      outcome.error = 'llm_not_configured';
      return;
    }
    let prompt;
    try {
      prompt = buildPrompt({
        systemPrompt: profile.systemPrompt,
        context: ctx.context,
        history: ctx.history,
        question: ctx.question,
        images: ctx.images,
        contextWindow: profile.contextWindow,
        maxOutputTokens: profile.maxOutputTokens,
      });
    } catch (err) {
      if (!(err instanceof QuestionTooLongError)) throw err;
      ctx.answer = { text: NOTES.tooLong(err), source: 'declined' };
      ctx.remember = false;
      return;
    }
    if (prompt.droppedTurns) ctx.log.debug({ dropped: prompt.droppedTurns }, 'older turns left out of the prompt');

    let text = '';
    let usage: Usage | undefined;
    try {
      for await (const ev of this.deps.llm.stream({
        messages: prompt.messages,
        model: profile.model,
        fallbackModels: profile.fallbackModels,
        maxTokens: profile.maxOutputTokens,
        temperature: profile.temperature,
        topP: profile.topP,
        seed: profile.seed,
        signal,
      })) {
        if (ev.type === 'delta') {
          outcome.firstTokenAt ??= Date.now();
          text += ev.text;
          renderer.update(text);
        } else {
          outcome.model = ev.model;
          outcome.modelFirstTokenMs = ev.timeToFirstTokenMs;
          usage = ev.usage;
        }
      }
      outcome.usage = usage ?? { promptTokens: prompt.tokens, completionTokens: 0 };
      ctx.answer = { text: text || '…', source: 'model', citations: ctx.citations };
    } catch (err) {
      const reason = err instanceof LlmError ? reasonFor(err) : describe(err);
      outcome.error = err instanceof LlmError ? err.code : 'internal';
      ctx.log.warn({ err: describe(err), code: outcome.error, partial: text.length > 0 }, 'model call failed');
      // Both notes mark the reply incomplete, with where the answer ends: the knowledge middleware neither caches it nor scores the note.
      if (signal.aborted) {
        const answer = text.trimStart();
        ctx.answer = { text: (answer + NOTES.interrupted).trim(), source: text ? 'model' : 'error', citations: ctx.citations, incomplete: true, answerLength: answer.length };
        outcome.usage = usage;
      } else if (text) {
        ctx.answer = { text: text + NOTES.cutOff(reason), source: 'model', citations: ctx.citations, incomplete: true, answerLength: text.length };
        outcome.usage = usage;
      } else {
        ctx.answer = { text: NOTES.failed(reason), source: 'error' };
      }
    }
  }
}

/** Per-turn machinery handed to the terminal step (kept off the public context). */
interface TurnRun {
  renderer: ProgressiveRenderer;
  outcome: Partial<TurnResult>;
  signal: AbortSignal;
}

function reasonFor(e: LlmError): string {
  switch (e.code) {
    case 'llm_timeout':
      return 'the model stopped responding';
    case 'llm_connect_timeout':
      return 'the model did not respond in time';
    case 'llm_rate_limited':
      return 'the model is busy';
    case 'llm_server_error':
      return 'the model service had an error';
    case 'llm_network':
      return 'the connection to the model failed';
    default:
      return 'the model refused the request';
  }
}

function withNotices(text: string, notices: string[]): string {
  return notices.length ? `${text}\n\n${notices.map((n) => `_${n}_`).join('\n')}` : text;
}

