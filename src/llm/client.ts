import OpenAI, { APIUserAbortError } from 'openai';
import type { Logger } from '../kernel/logger.js';
import { LlmError } from '../kernel/errors.js';
import type { Usage } from '../kernel/types.js';
import { HOOKS, modelFetch, type FetchHooks } from './http-fetch.js';
import { toLlmError } from './server-errors.js';
import { calibrate, countMessages, countTokens } from './tokens.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatContentPart[];
}
export type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ChatRequest {
  messages: ChatMessage[];
  /** Model to try first, then each fallback in order (only while no token has arrived; ProviderRouter does this). */
  model: string;
  fallbackModels?: string[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
}

export type ChatEvent =
  | { type: 'delta'; text: string }
  | {
      type: 'done';
      /** The model that answered: the response's own `model` when it names another model than asked for. */
      model: string;
      /** Always set: the server's figures, or counted locally (`estimated`) when it sent none. */
      usage: Usage;
      /** `stop`, `length` (cut by max_tokens), `content_filter`, … as the server said. */
      finishReason?: string;
      timeToFirstTokenMs: number;
    };

/** What the engine needs from a model client; a router over several providers implements it too. */
export interface ChatModelClient {
  stream(req: ChatRequest): AsyncGenerator<ChatEvent>;
}

export interface LlmClientOptions {
  baseURL: string;
  apiKey?: string;
  /** Time allowed until the response starts (headers received). */
  connectTimeoutMs: number;
  /**
   * Time allowed from the response's start to its first token. Long on purpose: local servers
   * read a long prompt for minutes on a CPU, sending only SSE keep-alive comments meanwhile.
   */
  firstTokenTimeoutMs?: number;
  /** Time allowed between two received pieces once tokens flow (keep-alive comments count); a stream that keeps flowing is never cut. */
  idleTimeoutMs: number;
  /** Retries on 429/5xx/network errors before the first token (never after a first-token timeout). */
  maxRetries: number;
  /** Base of the exponential backoff (default 500 ms, doubled per attempt, full jitter, capped at 8 s). */
  backoffBaseMs?: number;
  log: Logger;
}

const MAX_BACKOFF_MS = 8_000;
/** A server asking for a longer pause than this is treated as failing now (the user is waiting). */
const MAX_RETRY_AFTER_MS = 20_000;
/** Default first-token allowance: a CPU llama.cpp reads ~100–300 prompt tokens per second. */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = 300_000;

/**
 * No calibration from prompts the server counts below this. The ratio only matters for prompts
 * near a context window, which are thousands of tokens; shorter ones fit by bytes and are never
 * counted (engine/prompt.ts). Counting every short reply's prompt loaded the o200k tables
 * (~19 MB of heap) and was a share of each reply's CPU (issue 19). A prompt the server refuses
 * as too long still teaches the ratio (engine/model-turn.ts).
 */
const MIN_CALIBRATION_TOKENS = 1_000;

/**
 * Streams chat completions of ONE model from any OpenAI-compatible endpoint through the `openai`
 * SDK. The SDK's own retries are off (`maxRetries: 0`) so backoff and timeouts are decided here,
 * and only before the first token: after text has been shown, retrying would repeat it. Falling
 * back to other models is ProviderRouter's job (the one fallback loop).
 */
export class LlmClient implements ChatModelClient {
  private readonly sdk: OpenAI;
  /** Models the server answered under another name, warned about once per process. */
  private readonly renamed = new Set<string>();
  constructor(private readonly o: LlmClientOptions) {
    this.sdk = new OpenAI({
      baseURL: o.baseURL,
      // Local servers (Ollama, vLLM) need no key, but the SDK insists on one.
      apiKey: o.apiKey ?? 'not-needed',
      maxRetries: 0,
      timeout: o.connectTimeoutMs,
      fetch: modelFetch,
    });
  }

  async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
    const model = req.model;
    let lastError: LlmError | undefined;
    for (let attempt = 0; attempt <= this.o.maxRetries; attempt++) {
      if (req.signal?.aborted) throw new LlmError('llm_aborted', 'the request was cancelled', { retryable: false });
      let started = false;
      const hooks: FetchHooks = {};
      try {
        for await (const event of this.attempt(model, req, hooks)) {
          started = true;
          yield event;
        }
        return;
      } catch (err) {
        const e = toLlmError(err, req.signal, hooks.errorBody);
        // Once text is out, the caller keeps it and reports the failure; never retry into a duplicate.
        if (started || e.code === 'llm_aborted') throw e;
        lastError = e;
        if (!e.retryable || attempt === this.o.maxRetries || (e.retryAfterMs ?? 0) > MAX_RETRY_AFTER_MS) break;
        const delay = e.retryAfterMs ?? backoff(attempt, this.o.backoffBaseMs ?? 500);
        this.o.log.warn({ model, attempt: attempt + 1, code: e.code, status: e.status, delayMs: delay }, 'model call failed, retrying');
        await sleep(delay, req.signal);
      }
    }
    throw lastError ?? new LlmError('llm_rejected', 'no model to call', { retryable: false });
  }

  private async *attempt(model: string, req: ChatRequest, hooks: FetchHooks): AsyncGenerator<ChatEvent> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut: 'connect' | 'first' | 'idle' | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (kind: 'connect' | 'first' | 'idle', ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = kind;
        controller.abort();
      }, ms);
    };
    arm('connect', this.o.connectTimeoutMs);
    const firstTokenMs = this.o.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    const started = Date.now();
    let firstTokenAt: number | undefined;
    let text = '';
    // Before the first token only the first-token deadline runs (keep-alives do not extend it);
    // after it, any bytes (tokens or keep-alive comments) prove the server alive.
    hooks.onBytes = () => firstTokenAt !== undefined && arm('idle', this.o.idleTimeoutMs);
    // Whether the response was read to its end (nothing left to cancel).
    let ended = false;
    try {
      const stream = await this.sdk.chat.completions.create(
        {
          model,
          messages: req.messages as OpenAI.Chat.ChatCompletionMessageParam[],
          stream: true,
          stream_options: { include_usage: true },
          ...(req.maxTokens !== undefined && { max_tokens: req.maxTokens }),
          ...(req.temperature !== undefined && { temperature: req.temperature }),
          ...(req.topP !== undefined && { top_p: req.topP }),
          ...(req.seed !== undefined && { seed: req.seed }),
        },
        { signal: controller.signal, timeout: this.o.connectTimeoutMs, fetchOptions: { [HOOKS]: hooks } as object },
      );
      arm('first', firstTokenMs);
      let usage: Usage | undefined;
      let finishReason: string | undefined;
      let answered: string | undefined;
      for await (const chunk of stream) {
        if (chunk.model) answered ??= chunk.model;
        if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
        const choice = chunk.choices[0];
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        const piece = choice?.delta?.content;
        if (piece) {
          if (firstTokenAt === undefined) {
            firstTokenAt = Date.now();
            arm('idle', this.o.idleTimeoutMs);
          }
          text += piece;
          yield { type: 'delta', text: piece };
        }
      }
      ended = true;
      // The SDK ends the loop quietly when aborted or when the connection drops mid-stream:
      // tell a timeout, a cancel or a cut from a real end (which always carries a finish_reason).
      if (controller.signal.aborted) throw new APIUserAbortError();
      if (!finishReason) throw new LlmError('llm_network', 'the model stream ended before the answer was finished', { retryable: true });
      // Calibration needs our own count: only prompts long enough to matter pay for it.
      if (usage && usage.promptTokens >= MIN_CALIBRATION_TOKENS) calibrate(model, countMessages(req.messages), usage.promptTokens);
      yield {
        type: 'done',
        model: this.answeredBy(model, answered),
        usage: usage ?? { promptTokens: countMessages(req.messages), completionTokens: text ? countTokens(text) : 0, estimated: true },
        finishReason,
        timeToFirstTokenMs: (firstTokenAt ?? Date.now()) - started,
      };
    } catch (err) {
      if (timedOut === 'connect')
        throw new LlmError('llm_connect_timeout', `no response from the model within ${this.o.connectTimeoutMs} ms`, { retryable: true, cause: err });
      // Not retried: the server is still reading this prompt (llama.cpp cancels only between 2,048-token
      // batches), so a retry reads it again beside the cancelled one and times out the same way.
      if (timedOut === 'first')
        throw new LlmError('llm_connect_timeout', `no first token from the model within ${firstTokenMs} ms`, { retryable: false, cause: err });
      if (timedOut === 'idle') throw new LlmError('llm_timeout', `the model sent nothing for ${this.o.idleTimeoutMs} ms`, { retryable: true, cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      // A response read to its end has nothing to cancel: aborting it anyway built a DOMException
      // (with its stack) on every reply (issue 19).
      if (!ended) controller.abort();
    }
  }

  /**
   * Servers that serve whatever is loaded (llama.cpp, some gateways) answer any model name; the
   * response's `model` says what answered. Dated snapshots (`gpt-4o-mini-2024-07-18` for
   * `gpt-4o-mini`, `llama3:latest` for `llama3`) are the same model: their configured name stays,
   * so prices keep matching.
   */
  private answeredBy(requested: string, answered: string | undefined): string {
    if (!answered || answered === requested || answered.startsWith(requested) || requested.startsWith(answered)) return requested;
    if (!this.renamed.has(requested)) {
      this.renamed.add(requested);
      this.o.log.warn({ requested, answered }, 'the server answered with another model than configured; usage is booked under the model that answered');
    }
    return answered;
  }

  /** One-token call, for `parley doctor` and readiness checks; resolves with the model that answered. */
  async ping(model: string): Promise<string> {
    let answered = model;
    for await (const ev of this.stream({ model, messages: [{ role: 'user', content: 'ping' }], maxTokens: 1 })) {
      if (ev.type === 'done') answered = ev.model;
    }
    return answered;
  }

  /** The server's `/models` list, or undefined where it serves none (some gateways answer 404). */
  async listModels(): Promise<string[] | undefined> {
    try {
      const ids: string[] = [];
      for await (const m of this.sdk.models.list({ timeout: this.o.connectTimeoutMs })) ids.push(m.id);
      return ids;
    } catch {
      return undefined;
    }
  }
}

function backoff(attempt: number, baseMs: number): number {
  // Full jitter: a random point in [0, base·2^attempt], so instances that failed together spread out.
  return Math.round(Math.random() * Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
