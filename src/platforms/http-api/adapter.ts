import { BackgroundWork } from '../../kernel/background.js';
import { newId } from '../../kernel/strings.js';
import type { IncomingMessage as HttpRequest, ServerResponse } from 'node:http';
import type { ApiKeySettings, ApiSettings } from '../../config/env.js';
import type { Settings } from '../../config/settings.js';
import { resolveContent, totalUsage, type Deliver, type Diagnosis, type PlatformAdapter, type ReplySurface } from '../../kernel/adapter.js';
import type { AdapterDeps } from '../deps.js';
import { describe } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { TurnResult } from '../../engine/pipeline.js';
import { conversationKey, type IncomingMessage } from '../../kernel/types.js';
import { HttpError, sendJson } from '../../server/http.js';
import { ApiKeyring, type TokenHold } from './keys.js';
import { countTokens } from '../../llm/tokens.js';
import { API_PREFIX, mountApiRoutes } from './routes.js';
import { askRequestSchema, newConversationId, newTaskId, type Answer, type AskRequest } from './schemas.js';
import { ApiSurface, SseResponse, type TaskLocation } from './sse.js';
import { TaskStore } from './tasks.js';
import type { ForgetReport, Forgetter } from '../../privacy/forget.js';

/** What the HTTP API needs beyond every adapter's deps. */
export interface HttpApiExtraDeps {
  /** The live settings, to check a requested profile exists. Absent = only `default`. */
  settings: () => Settings;
  /** The one deletion path, for `DELETE /users/{user}` and `DELETE /conversations/{id}`. */
  forgetter: Forgetter;
}

export function createHttpApiAdapter(settings: ApiSettings, deps: AdapterDeps & Partial<HttpApiExtraDeps>): HttpApiAdapter {
  return new HttpApiAdapter(settings, deps);
}

/** The answer length reserved when no profile says (OPENAI_MAX_OUTPUT_TOKENS' default). */
const DEFAULT_MAX_OUTPUT_TOKENS = 1024;

/** How one request wants its answer written (an SSE stream, or nothing until the end). */
interface PendingTurn {
  /** The one writer of the request's SSE stream, when it asked for one. */
  surface?: ApiSurface;
  /** The task this answer is for, if any. */
  task?: string;
  /** Called when the engine starts the turn (a task becomes "running"). */
  onStart?: () => void;
}

/**
 * The HTTP API (`/api/v1`) as a platform: websites, widgets and internal tools ask the same
 * engine as Slack and Discord. Each API key is its own workspace (`api:<key name>`), so
 * analytics, budgets and routing rules see keys like teams; a conversation id is the thread.
 */
export class HttpApiAdapter implements PlatformAdapter {
  readonly platform = 'api';
  private readonly log: Logger;
  private readonly keyring: ApiKeyring;
  private readonly tasks: TaskStore;
  private readonly turns = new WeakMap<IncomingMessage, PendingTurn>();
  /** Background tasks still being answered or recorded; `stop` waits for them. */
  private readonly background: BackgroundWork;
  private running = false;
  private deliver?: Deliver;
  private mounted = false;
  /** Whether any key has a daily token budget (what `estimateTokens` is for). */
  private readonly budgeted: boolean;

  constructor(
    private readonly settings: ApiSettings,
    private readonly deps: AdapterDeps & Partial<HttpApiExtraDeps>,
  ) {
    this.log = deps.log.child({ platform: 'api' });
    this.keyring = new ApiKeyring(settings.keys, deps.store);
    this.budgeted = settings.keys.some((k) => k.tokensPerDay !== undefined);
    this.tasks = new TaskStore(deps.store, settings.taskTtlMs);
    this.background = new BackgroundWork((err) => this.log.error({ err: describe(err) }, 'an HTTP API task failed'));
  }

  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
    if (!this.mounted) {
      mountApiRoutes(this.deps.http, {
        keyring: this.keyring,
        askSchema: askRequestSchema(this.settings.maxQuestionChars),
        corsOrigins: this.settings.corsOrigins,
        // Room for a question somewhat over the limit (UTF-8, JSON escapes), so it gets a 400 naming it.
        maxBodyBytes: this.settings.maxQuestionChars * 8 + 16_384,
        log: this.log,
        accepting: () => this.running && this.deps.http.isStarted,
        knownProfile: (name) => (this.deps.settings ? this.deps.settings().profiles.has(name) : name === 'default'),
        estimateTokens: (body) => this.estimateTokens(body),
        ask: (key, body, req, res, hold) => this.ask(key, body, req, res, hold),
        submitTask: (key, body, res, hold) => this.submitTask(key, body, res, hold),
        getTask: (key, id, res) => this.getTask(key, id, res),
        forgetUser: (key, user, res) => this.forget(res, (f) => f.forgetPerson('api', user, { workspace: key.name })),
        // The conversation key as the engine forms it for this key (message(): workspace = key, channel = api).
        forgetConversation: (key, id, res) =>
          this.forget(res, (f) => f.forgetConversation(conversationKey({ platform: 'api', workspace: key.name, channel: 'api', thread: id }))),
      });
      this.mounted = true;
    }
    this.running = true;
    this.log.info({ keys: this.settings.keys.length, prefix: API_PREFIX }, 'HTTP API ready');
  }

  async stop(): Promise<void> {
    this.running = false;
    // The engine has drained by now; what is left is writing the tasks' outcomes.
    await this.background.idle();
  }

  async openReply(message: IncomingMessage): Promise<ReplySurface> {
    const pending = this.turns.get(message);
    pending?.onStart?.();
    return pending?.surface ?? new ApiSurface(undefined, pending?.task ? { task: pending.task } : undefined);
  }

  /**
   * Crash recovery: another instance died while answering this task. The renderer finishes the
   * reply with the partial text and a note; the task becomes failed with that text as the reason.
   */
  async resumeReply(location: unknown): Promise<ReplySurface> {
    const task = (location as Partial<TaskLocation> | undefined)?.task;
    if (typeof task !== 'string') throw new Error('not an HTTP API task location');
    // Nothing is shown while a task runs: the surface only takes the text (as every surface
    // must) and `complete` writes it to the task.
    return {
      maxLength: Number.MAX_SAFE_INTEGER,
      post: async (content) => (resolveContent(content), { id: 'answer' }),
      edit: async (_ref, content) => void resolveContent(content),
      complete: (final) => this.tasks.interrupted(task, final.text),
    };
  }

  async diagnose(): Promise<Diagnosis[]> {
    return [
      {
        check: 'HTTP API keys',
        ok: this.settings.keys.length > 0,
        detail: `${this.settings.keys.length} key(s): ${this.settings.keys.map((k) => k.name).join(', ')}; CORS origins: ${this.settings.corsOrigins.join(', ') || 'none'}`,
        fix: 'set API_KEYS=name:sha256hex (hash a key with: printf %s "$KEY" | sha256sum)',
      },
    ];
  }

  /** `POST /api/v1/ask`: SSE when the client accepts `text/event-stream`, one JSON body otherwise. */
  private async ask(key: ApiKeySettings, body: AskRequest, req: HttpRequest, res: ServerResponse, hold?: TokenHold): Promise<void> {
    const conversationId = body.conversationId ?? newConversationId();
    const message = this.message(key, body, conversationId);
    if (!/text\/event-stream/i.test(req.headers.accept ?? '')) {
      const result = await this.answer(key, message, {}, hold);
      const failure = failureOf(result);
      if (failure) throw new HttpError(502, failure.code, failure.message);
      return sendJson(res, 200, toAnswer(result!, conversationId));
    }
    const surface = new ApiSurface(new SseResponse(res)).start(conversationId);
    const result = await this.answer(key, message, { surface }, hold);
    const failure = failureOf(result);
    if (failure) surface.finish('error', { error: failure });
    else surface.finish('done', toAnswer(result!, conversationId));
  }

  /** `POST /api/v1/tasks`: answers 202 with the task id at once, then answers in the background. */
  private async submitTask(key: ApiKeySettings, body: AskRequest, res: ServerResponse, hold?: TokenHold): Promise<void> {
    const id = newTaskId();
    const conversationId = body.conversationId ?? newConversationId();
    const message = this.message(key, body, conversationId);
    try {
      await this.tasks.create(id, key.name, conversationId, { person: `api:${message.user.id}`, conversation: conversationKey(message) });
    } catch (err) {
      await this.settle(key, hold, 0);
      throw err;
    }
    sendJson(res, 202, { id, status: 'pending', conversationId }, { location: `${API_PREFIX}/tasks/${id}` });

    const work = (async () => {
      const onStart = () => void this.tasks.running(id).catch((err) => this.log.warn({ err: describe(err), task: id }, 'marking a task running failed'));
      const result = await this.answer(key, message, { onStart, task: id }, hold);
      const failure = failureOf(result);
      if (failure) await this.tasks.failed(id, failure);
      else await this.tasks.completed(id, toAnswer(result!, conversationId));
    })().catch((err) => this.log.error({ err: describe(err), task: id }, 'recording a task outcome failed'));
    void this.background.track(work);
  }

  /** `GET /api/v1/tasks/{id}`: only the key that submitted a task sees it. */
  private async getTask(key: ApiKeySettings, id: string, res: ServerResponse): Promise<void> {
    const task = await this.tasks.get(id, key.name);
    if (!task) throw new HttpError(404, 'not_found', 'no such task for this API key (tasks expire after API_TASK_TTL_HOURS)', { field: 'id' });
    sendJson(res, 200, task);
  }

  /** Deletion on request: only what this key's own requests stored (each key is its own workspace). */
  private async forget(res: ServerResponse, run: (f: Forgetter) => Promise<ForgetReport>): Promise<void> {
    if (!this.deps.forgetter) throw new HttpError(501, 'not_available', 'deletion is not available in this setup');
    sendJson(res, 200, { deleted: await run(this.deps.forgetter) });
  }

  /** Asks the engine; settles the tokens reserved from the key's daily budget with what the answer used. */
  private async answer(key: ApiKeySettings, message: IncomingMessage, pending: PendingTurn, hold?: TokenHold): Promise<TurnResult | undefined> {
    this.turns.set(message, pending);
    let used = 0;
    try {
      if (!this.deliver) throw new Error('the HTTP API adapter is not started');
      const result = await this.deliver(message);
      // Questions merged into one turn share its result; its tokens are counted once, for the last.
      const usage = result && result.message === message ? totalUsage(result) : undefined;
      if (usage) used = usage.promptTokens + usage.completionTokens;
      return result;
    } finally {
      await this.settle(key, hold, used);
    }
  }

  private async settle(key: ApiKeySettings, hold: TokenHold | undefined, used: number): Promise<void> {
    await this.keyring.settle(hold, used).catch((err) => this.log.warn({ err: describe(err), key: key.name }, 'settling the key budget failed'));
  }

  /** The question's tokens and the longest answer the profile allows: what one ask may cost at most (history aside). */
  private estimateTokens(body: AskRequest): number {
    // Only a key's daily token budget reserves this; without one the count would load the
    // o200k tables (~19 MB of heap) and tokenize every question for nothing (issue 19).
    if (!this.budgeted) return 0;
    const profile = this.deps.settings?.().profiles.get(body.profile ?? 'default');
    return countTokens(body.question) + (profile?.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS);
  }

  private message(key: ApiKeySettings, body: AskRequest, conversationId: string): IncomingMessage {
    const id = newId();
    return {
      platform: 'api',
      workspace: key.name,
      channel: 'api',
      thread: conversationId,
      id,
      user: { id: body.user ?? key.name, name: body.user ?? key.name },
      text: body.question,
      attachments: [],
      // An explicit question to the bot, like a mention: direct-message rules do not apply.
      trigger: 'mention',
      // The requested profile: routing honours it before its rules (validated against the config above).
      profile: body.profile,
      receivedAt: Date.now(),
    };
  }
}

function toAnswer(r: TurnResult, conversationId: string): Answer {
  const usage = totalUsage(r);
  return {
    conversationId,
    text: r.text,
    source: r.source,
    citations: r.citations.map((c) => ({ id: c.id, title: c.title, location: c.location })),
    // All the turn's model calls (a query rewrite too): what the caller's key is charged.
    usage: { promptTokens: usage?.promptTokens ?? 0, completionTokens: usage?.completionTokens ?? 0, ...(usage?.estimated && { estimated: true }) },
    model: r.model ?? null,
    profile: r.profile,
    finishReason: r.finishReason ?? null,
    incomplete: r.incomplete === true,
    groundedness: r.grounding?.score ?? null,
  };
}

/** Why no answer could be given (the model failed, or the turn broke), or undefined for an answer. */
function failureOf(r: TurnResult | undefined): { code: string; message: string } | undefined {
  if (!r) return { code: 'internal_error', message: 'the question could not be answered; try again' };
  if (r.source === 'error') return { code: r.error ?? 'answer_failed', message: r.text };
  return undefined;
}
