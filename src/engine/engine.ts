import { BackgroundWork } from '../kernel/background.js';
import { attempt } from '../kernel/promise.js';
import type { Logger } from '../kernel/logger.js';
import type { FinalReply, PlatformAdapter, ReplySurface } from '../kernel/adapter.js';
import { HandlerError, describe } from '../kernel/errors.js';
import { compose, type Grounding, type Middleware, type TurnContext, type TurnResult } from './pipeline.js';
import type { Profile } from '../config/profile.js';
import { answerWithModel, NOTES } from './model-turn.js';
import { ConversationQueue } from './conversation-queue.js';
import type { ConversationLock } from './conversation-lock.js';
import type { InflightJournal } from './inflight.js';
import { conversationKey, type ConversationKey, type IncomingMessage, type Turn } from '../kernel/types.js';
import type { ChatModelClient } from '../llm/client.js';
import type { HistoryStore } from '../store/history.js';
import { ProgressiveRenderer } from './renderer.js';
import type { Feature, MessageListener, TurnListener } from './feature.js';

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
}

export type { TurnListener, MessageListener } from './feature.js';
export type ErrorHook = (err: HandlerError, message: IncomingMessage) => void;

export { NOTES } from './model-turn.js';

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
  private readonly transforms: ((text: string) => string)[] = [];
  private readonly quietChecks: NonNullable<Feature['quiet']>[] = [];
  /** Turns in progress, so a shutdown past its deadline can cut them short cleanly. */
  private readonly inflight = new Set<AbortController>();
  /** Work turn listeners are still doing (ledger, analytics writes). */
  private readonly listenerWork: BackgroundWork;
  private errorHook: ErrorHook;
  private readonly queue: ConversationQueue<TurnResult | undefined>;
  private readonly adapters = new WeakMap<IncomingMessage, PlatformAdapter>();

  constructor(private readonly deps: EngineDeps) {
    this.listenerWork = new BackgroundWork((err) => deps.log.error({ err }, 'turn listener failed'));
    this.errorHook = (err, message) =>
      deps.log.error({ err: err.cause ?? err, code: err.code, platform: message.platform, conversation: err.conversation }, 'handling a message failed');
    this.queue = new ConversationQueue<TurnResult | undefined>(
      (batch) => this.turn(batch),
      (err, batch) => {
        const last = batch[batch.length - 1]!;
        this.errorHook(err instanceof HandlerError ? err : new HandlerError(conversationKey(last), err), last);
      },
    );
  }

  /** Installs features in order: their middleware runs in this order, their listeners after every turn. */
  install(...features: Feature[]): this {
    for (const f of features) {
      if (f.middleware) this.use(...f.middleware);
      if (f.onTurn) this.onTurn(f.onTurn);
      if (f.onMessage) this.onMessage(f.onMessage);
      if (f.outputTransform) this.transforms.push(f.outputTransform);
      if (f.quiet) this.quietChecks.push(f.quiet);
    }
    return this;
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

  /**
   * Accepts a message from `adapter` (the `Deliver` every adapter is started with): queues it
   * and resolves with the result of the turn that answered it (merged messages share one).
   * Not async: the queue's promise is handed on, so an answer streaming holds no frame here (issue 19).
   */
  deliver(adapter: PlatformAdapter, message: IncomingMessage): Promise<TurnResult | undefined> {
    return attempt(() => {
      this.adapters.set(message, adapter);
      for (const l of this.messageListeners) {
        try {
          l(message);
        } catch (err) {
          this.deps.log.error({ err }, 'message listener failed');
        }
      }
      return this.queue.enqueue(conversationKey(message), message);
    });
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
    await this.listenerWork.idle();
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

  /** The features' output transforms, in order. */
  private readonly transform = (text: string): string => this.transforms.reduce((t, f) => f(t), text);

  private async isQuiet(message: IncomingMessage, conversation: ConversationKey): Promise<boolean> {
    for (const quiet of this.quietChecks) if (await quiet(message, conversation).catch(() => false)) return true;
    return false;
  }

  private async turn(batch: IncomingMessage[]): Promise<TurnResult | undefined> {
    const message = batch[batch.length - 1]!;
    const adapter = this.adapters.get(message)!;
    const conversation = conversationKey(message);
    const log = this.deps.log.child({ platform: message.platform, conversation });
    const startedAt = Date.now();
    const abort = new AbortController();
    this.inflight.add(abort);
    // A store that cannot be reached costs the cross-instance lock, not the answer (this
    // process's queue still serialises the conversation).
    const unlock = this.deps.lock
      ? await this.deps.lock
          .acquire(conversation)
          .catch((err) => void log.error({ err: describe(err) }, 'conversation lock unavailable (store down); answering without it'))
      : undefined;
    // Handed on with the release attached, not awaited in a try/finally: a turn whose answer is
    // streaming holds no suspended frame here (issue 19).
    return this.answerTurn(batch, adapter, conversation, log, startedAt, abort.signal).finally(() => {
      this.inflight.delete(abort);
      return unlock?.().catch((err) => log.warn({ err: describe(err) }, 'releasing the conversation lock failed'));
    });
  }

  private async answerTurn(
    batch: IncomingMessage[],
    adapter: PlatformAdapter,
    conversation: ConversationKey,
    log: Logger,
    startedAt: number,
    signal: AbortSignal,
  ): Promise<TurnResult | undefined> {
    const message = batch[batch.length - 1]!;
    if (await this.isQuiet(message, conversation)) {
      log.debug('quiet turn: the thread is handed to a human');
      return undefined;
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
      transform: this.transforms.length ? this.transform : undefined,
      onProgress: tracker && ((refs, text) => tracker.progress(refs, text)),
    });
    const outcome: Partial<TurnResult> = {};
    // The terminal step gets this turn's machinery directly (composing is one closure per turn),
    // keeping it off the context middleware sees.
    const run = compose(this.middleware, (c) => answerWithModel(c, this.deps.llm, { renderer, outcome, signal }));
    const open: OpenTurn = { conversation, log, startedAt, ctx, surface, renderer, tracker, outcome, history, loadedAt };
    // The rest of the turn is chained on, not awaited: while the answer streams, the turn holds
    // these values, not a suspended frame with every local of this function (issue 19).
    return run(ctx).then(
      () => this.finishTurn(open),
      (err) => {
        // The asker still gets a reply; the error goes to the one hook, with its conversation.
        this.errorHook(err instanceof HandlerError ? err : new HandlerError(conversation, err), message);
        ctx.answer = { text: NOTES.internal, source: 'error' };
        return this.finishTurn(open);
      },
    );
  }

  /** After the middleware and the model: the final reply, history, the result and the listeners. */
  private async finishTurn(t: OpenTurn): Promise<TurnResult> {
    const { conversation, log, startedAt, ctx, surface, renderer, tracker, outcome, history, loadedAt } = t;
    const message = ctx.message;
    // A middleware answered without the model, or the model step set the final answer.
    const final: FinalReply = ctx.answer ?? { text: NOTES.failed('no answer was produced'), source: 'error' };
    const text = final.silent ? '' : withNotices(final.text, ctx.notices);
    // A decline answers nothing from the passages: no Sources footer under it.
    const citations = final.source === 'declined' ? [] : (final.citations ?? ctx.citations);
    if (final.silent) {
      // A quiet turn (handed-off thread): nothing is posted; the surface only stops its typing.
      ctx.remember = false;
      await surface.complete?.({ ...final, text }, []).catch((err) => log.debug({ err: describe(err) }, 'completing a silent reply failed'));
    } else {
      try {
        await renderer.finish({ ...final, text, citations });
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
      citations,
      model: outcome.model,
      usage: outcome.usage,
      finishReason: outcome.finishReason,
      incomplete: outcome.incomplete || final.incomplete || undefined,
      error: outcome.error,
      startedAt,
      firstTokenAt: outcome.firstTokenAt,
      modelFirstTokenMs: outcome.modelFirstTokenMs,
      firstVisibleAt: renderer.stats.firstVisibleAt,
      finishedAt,
      updates: renderer.stats.updates,
    };
    // Set by the knowledge middleware on model answers with passages (src/quality/groundedness.ts).
    if (ctx.state.grounding) result.grounding = ctx.state.grounding;
    if (ctx.state.sideCalls?.length) result.sideCalls = ctx.state.sideCalls;
    log.info(
      { source: result.source, model: result.model, usage: result.usage, error: result.error, ms: finishedAt - startedAt, updates: result.updates },
      'answered',
    );
    for (const l of this.listeners) {
      try {
        const work = l(result);
        if (work) {
          void this.listenerWork.track(work);
        }
      } catch (err) {
        log.error({ err }, 'turn listener failed');
      }
    }
    return result;
  }
}

/** A turn between its start and its end: what finishing it needs. */
interface OpenTurn {
  conversation: ConversationKey;
  log: Logger;
  startedAt: number;
  ctx: TurnContext;
  surface: ReplySurface;
  renderer: ProgressiveRenderer;
  tracker: ReturnType<InflightJournal['track']> | undefined;
  outcome: Partial<TurnResult>;
  history: Turn[];
  loadedAt: number | undefined;
}

function withNotices(text: string, notices: string[]): string {
  return notices.length ? `${text}\n\n${notices.map((n) => `_${n}_`).join('\n')}` : text;
}
