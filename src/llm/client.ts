import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { Logger } from '../kernel/logger.js';
import { LlmError } from '../kernel/errors.js';
import type { Usage } from '../kernel/types.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ChatContentPart[];
}
export type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

export interface ChatRequest {
  messages: ChatMessage[];
  /** Model to try first, then each fallback in order (only while no token has arrived). */
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
  | { type: 'done'; model: string; usage?: Usage; finishReason?: string; timeToFirstTokenMs: number };

/** What the engine needs from a model client; a router over several providers implements it too. */
export interface ChatModelClient {
  stream(req: ChatRequest): AsyncGenerator<ChatEvent>;
}

export interface LlmClientOptions {
  baseURL: string;
  apiKey?: string;
  /** Time allowed until the response starts (headers received). */
  connectTimeoutMs: number;
  /** Time allowed between two chunks (and before the first one); a stream that keeps flowing is never cut. */
  idleTimeoutMs: number;
  /** Retries per model on 429/5xx/network errors before the first token. */
  maxRetries: number;
  /** Base of the exponential backoff (default 500 ms, doubled per attempt, full jitter, capped at 8 s). */
  backoffBaseMs?: number;
  log: Logger;
}

const MAX_BACKOFF_MS = 8_000;
/** A server asking for a longer pause than this is treated as failing now (the user is waiting). */
const MAX_RETRY_AFTER_MS = 20_000;

/**
 * Streams chat completions from any OpenAI-compatible endpoint through the `openai` SDK.
 * The SDK's own retries are off (`maxRetries: 0`) so backoff, fallbacks and timeouts are
 * decided here, in one place, and only before the first token: after text has been shown,
 * retrying would repeat it.
 */
export class LlmClient implements ChatModelClient {
  private readonly sdk: OpenAI;
  constructor(private readonly o: LlmClientOptions) {
    this.sdk = new OpenAI({
      baseURL: o.baseURL,
      // Local servers (Ollama, vLLM) need no key, but the SDK insists on one.
      apiKey: o.apiKey ?? 'not-needed',
      maxRetries: 0,
      timeout: o.connectTimeoutMs,
    });
  }

  async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
    const models = [req.model, ...(req.fallbackModels ?? []).filter((m) => m !== req.model)];
    let lastError: LlmError | undefined;
    for (const model of models) {
      for (let attempt = 0; attempt <= this.o.maxRetries; attempt++) {
        if (req.signal?.aborted) throw new LlmError('llm_aborted', 'the request was cancelled', { retryable: false });
        let started = false;
        try {
          for await (const event of this.attempt(model, req)) {
            started = true;
            yield event;
          }
          return;
        } catch (err) {
          const e = toLlmError(err, req.signal);
          // Once text is out, the caller keeps it and reports the failure; never retry into a duplicate.
          if (started || e.code === 'llm_aborted') throw e;
          lastError = e;
          if (!e.retryable) break;
          if (attempt === this.o.maxRetries) break;
          if ((e.retryAfterMs ?? 0) > MAX_RETRY_AFTER_MS) break;
          const delay = e.retryAfterMs ?? backoff(attempt, this.o.backoffBaseMs ?? 500);
          this.o.log.warn({ model, attempt: attempt + 1, code: e.code, status: e.status, delayMs: delay }, 'model call failed, retrying');
          await sleep(delay, req.signal);
        }
      }
      if (model !== models[models.length - 1]) this.o.log.warn({ model, code: lastError?.code }, 'model failed, trying fallback');
    }
    throw lastError ?? new LlmError('llm_rejected', 'no model to call', { retryable: false });
  }

  private async *attempt(model: string, req: ChatRequest): AsyncGenerator<ChatEvent> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut: 'connect' | 'idle' | undefined;
    let timer = setTimeout(() => {
      timedOut = 'connect';
      controller.abort();
    }, this.o.connectTimeoutMs);
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = 'idle';
        controller.abort();
      }, this.o.idleTimeoutMs);
    };
    const started = Date.now();
    let firstTokenAt: number | undefined;
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
        { signal: controller.signal, timeout: this.o.connectTimeoutMs },
      );
      arm();
      let usage: Usage | undefined;
      let finishReason: string | undefined;
      for await (const chunk of stream) {
        arm();
        if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens };
        const choice = chunk.choices[0];
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        const text = choice?.delta?.content;
        if (text) {
          firstTokenAt ??= Date.now();
          yield { type: 'delta', text };
        }
      }
      // The SDK ends the loop quietly when aborted or when the connection drops mid-stream:
      // tell a timeout, a cancel or a cut from a real end (which always carries a finish_reason).
      if (controller.signal.aborted) throw new APIUserAbortError();
      if (!finishReason) throw new LlmError('llm_network', 'the model stream ended before the answer was finished', { retryable: true });
      yield { type: 'done', model, usage, finishReason, timeToFirstTokenMs: (firstTokenAt ?? Date.now()) - started };
    } catch (err) {
      if (timedOut === 'connect') throw new LlmError('llm_connect_timeout', `no response from the model within ${this.o.connectTimeoutMs} ms`, { retryable: true, cause: err });
      if (timedOut === 'idle') throw new LlmError('llm_timeout', `the model sent nothing for ${this.o.idleTimeoutMs} ms`, { retryable: true, cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      controller.abort();
    }
  }

  /** One-token call, for `parley doctor` and readiness checks. */
  async ping(model: string): Promise<void> {
    for await (const _ of this.stream({ model, messages: [{ role: 'user', content: 'ping' }], maxTokens: 1 })) {
      // draining is the check
    }
  }
}

function toLlmError(err: unknown, signal?: AbortSignal): LlmError {
  if (err instanceof LlmError) return err;
  if (signal?.aborted || err instanceof APIUserAbortError) return new LlmError('llm_aborted', 'the request was cancelled', { retryable: false, cause: err });
  if (err instanceof APIConnectionTimeoutError) return new LlmError('llm_connect_timeout', 'the model did not respond in time', { retryable: true, cause: err });
  if (err instanceof APIConnectionError) return new LlmError('llm_network', `cannot reach the model: ${err.message}`, { retryable: true, cause: err });
  if (err instanceof APIError && err.status !== undefined) {
    const status = err.status;
    const retryAfterMs = retryAfter(err.headers);
    if (status === 429) return new LlmError('llm_rate_limited', 'the model is rate limited', { retryable: true, status, retryAfterMs, cause: err });
    if (status === 408 || status === 409 || status >= 500) return new LlmError('llm_server_error', `the model service failed (${status})`, { retryable: true, status, retryAfterMs, cause: err });
    return new LlmError('llm_rejected', `the model service refused the request (${status}): ${err.message}`, { retryable: false, status, cause: err });
  }
  // A stream cut mid-way or a socket error surfaces as a plain error from the fetch body.
  return new LlmError('llm_network', `model stream failed: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
}

function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && !Number.isNaN(Number(ms))) return Number(ms);
  const s = headers?.get('retry-after');
  if (!s) return undefined;
  if (!Number.isNaN(Number(s))) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function backoff(attempt: number, baseMs: number): number {
  // Full jitter: a random point in [0, base·2^attempt], so instances that failed together spread out.
  return Math.round(Math.random() * Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
