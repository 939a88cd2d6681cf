import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { LlmError } from '../kernel/errors.js';

/**
 * How OpenAI-compatible servers say "the prompt does not fit", from their code and docs:
 * - OpenAI: 400 `{error: {code: "context_length_exceeded", message: "This model's maximum context length is N tokens. However, your messages resulted in M tokens…"}}`
 * - llama.cpp server: 400 `{error: {code: 400, type: "exceed_context_size_error", message: "request (M tokens) exceeds the available context size (N tokens), try increasing it", n_prompt_tokens: M, n_ctx: N}}`
 * - vLLM: 400 `{object: "error", type: "BadRequestError", message: "This model's maximum context length is N tokens. However, you requested M tokens (P in the messages, C in the completion)…"}` (newer versions wrap it in `error`)
 * - Ollama's /v1 endpoint: truncates by default; when it refuses: "the input length exceeds the context length"
 */
const OVERFLOW_WORDING =
  /context[_ ]length[_ ]exceeded|exceeds? the (available )?context (size|length|window)|maximum context length|input length exceeds|prompt is too long|too many tokens/i;

/** The raw error body the fetch wrapper kept (the SDK drops bodies without an `error` field, as vLLM's older ones are). */
export function toLlmError(err: unknown, signal?: AbortSignal, rawBody?: string): LlmError {
  if (err instanceof LlmError) return err;
  if (signal?.aborted || err instanceof APIUserAbortError) return new LlmError('llm_aborted', 'the request was cancelled', { retryable: false, cause: err });
  if (err instanceof APIConnectionTimeoutError)
    return new LlmError('llm_connect_timeout', 'the model did not respond in time', { retryable: true, cause: err });
  if (err instanceof APIConnectionError) return new LlmError('llm_network', `cannot reach the model: ${err.message}`, { retryable: true, cause: err });
  if (err instanceof APIError && err.status !== undefined) {
    const status = err.status;
    const overflow = contextOverflow(status, err, rawBody);
    if (overflow)
      return new LlmError('llm_context_overflow', `the prompt does not fit the model's context: ${overflow.message}`, {
        retryable: false,
        status,
        cause: err,
        context: overflow.context,
      });
    const retryAfterMs = retryAfter(err.headers);
    if (status === 429) return new LlmError('llm_rate_limited', 'the model is rate limited', { retryable: true, status, retryAfterMs, cause: err });
    if (status === 408 || status === 409 || status >= 500)
      return new LlmError('llm_server_error', `the model service failed (${status})`, { retryable: true, status, retryAfterMs, cause: err });
    return new LlmError('llm_rejected', `the model service refused the request (${status}): ${err.message}`, { retryable: false, status, cause: err });
  }
  // A stream cut mid-way or a socket error surfaces as a plain error from the fetch body.
  return new LlmError('llm_network', `model stream failed: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
}

function contextOverflow(
  status: number,
  err: APIError,
  rawBody?: string,
): { message: string; context: { promptTokens?: number; contextWindow?: number } } | undefined {
  if (status !== 400 && status !== 413 && status !== 422) return undefined;
  let body: Record<string, unknown> = {};
  try {
    const parsed = rawBody ? JSON.parse(rawBody) : {};
    body = (parsed?.error && typeof parsed.error === 'object' ? parsed.error : parsed) ?? {};
  } catch {
    body = { message: rawBody };
  }
  const message = String(body.message ?? (err.error as { message?: unknown } | undefined)?.message ?? err.message ?? '');
  const code = String(body.code ?? err.code ?? '');
  const type = String(body.type ?? err.type ?? '');
  if (code !== 'context_length_exceeded' && type !== 'exceed_context_size_error' && !OVERFLOW_WORDING.test(message)) return undefined;
  const num = (re: RegExp) => {
    const m = re.exec(message);
    return m ? Number(m[1]) : undefined;
  };
  const promptTokens =
    (typeof body.n_prompt_tokens === 'number' ? body.n_prompt_tokens : undefined) ??
    num(/request \((\d+) tokens\)/) ??
    num(/(\d+) in the messages/) ??
    num(/messages resulted in (\d+) tokens/) ??
    num(/requested (\d+) tokens/);
  const contextWindow =
    (typeof body.n_ctx === 'number' ? body.n_ctx : undefined) ?? num(/context size \((\d+) tokens\)/) ?? num(/maximum context length is (\d+)/);
  return { message: message.slice(0, 300), context: { promptTokens, contextWindow } };
}

export function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && !Number.isNaN(Number(ms))) return Number(ms);
  const s = headers?.get('retry-after');
  if (!s) return undefined;
  if (!Number.isNaN(Number(s))) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
