/**
 * One error base with a string `code`, split by cause as grammY does:
 * - PlatformError: the platform's API answered "no" (carries the platform's own error string).
 * - RateLimitError: the platform or model said "slow down" (carries how long to wait).
 * - NetworkError: the request never got an answer.
 * - LlmError: the model call failed (after retries and fallbacks).
 * - ConfigError: bad configuration; names the variable or key.
 * - HandlerError: something threw while handling a message; wraps the cause with its context.
 */
export class ParleyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class ConfigError extends ParleyError {
  /** The environment variable or config key at fault, e.g. `STORE_URL` or `profiles.billing.model`. */
  readonly key: string;
  constructor(key: string, message: string) {
    super('config_invalid', `${key}: ${message}`);
    this.key = key;
  }
}

export class PlatformError extends ParleyError {
  readonly platform: string;
  readonly method: string;
  /** The platform's own error string or code, e.g. Slack's `msg_too_long` or Discord's `50035`. */
  readonly platformCode: string;
  constructor(platform: string, method: string, platformCode: string, options?: { cause?: unknown; message?: string }) {
    super('platform_error', options?.message ?? `${platform} ${method} failed: ${platformCode}`, options);
    this.platform = platform;
    this.method = method;
    this.platformCode = platformCode;
  }
}

export class RateLimitError extends ParleyError {
  readonly retryAfterMs: number;
  readonly scope: string;
  constructor(scope: string, retryAfterMs: number, options?: { cause?: unknown }) {
    super('rate_limited', `rate limited on ${scope}; retry after ${retryAfterMs} ms`, options);
    this.scope = scope;
    this.retryAfterMs = retryAfterMs;
  }
}

export class NetworkError extends ParleyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('network_error', message, options);
  }
}

export type LlmErrorCode =
  | 'llm_timeout'
  | 'llm_connect_timeout'
  | 'llm_rate_limited'
  | 'llm_server_error'
  | 'llm_network'
  | 'llm_rejected'
  | 'llm_context_overflow'
  | 'llm_aborted'
  | 'llm_not_configured';

export class LlmError extends ParleyError {
  declare readonly code: LlmErrorCode;
  /** Whether a retry of the same request could succeed (429, 5xx, network, timeouts). */
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
  /** With `llm_context_overflow`: the server's own count of the prompt and its context size, when it said them. */
  readonly context?: { promptTokens?: number; contextWindow?: number };
  constructor(
    code: LlmErrorCode,
    message: string,
    options: { retryable: boolean; status?: number; retryAfterMs?: number; cause?: unknown; context?: { promptTokens?: number; contextWindow?: number } },
  ) {
    super(code, message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.context = options.context;
  }
}

/** Thrown by a handler; carries the conversation it was working on (grammY's BotError). */
export class HandlerError extends ParleyError {
  readonly conversation: string;
  constructor(conversation: string, cause: unknown) {
    super('handler_failed', `handling ${conversation} failed: ${describe(cause)}`, { cause });
    this.conversation = conversation;
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A native stream was refused or lost (Slack `feature_not_enabled`, `message_not_in_streaming_state`, …). */
export class StreamUnavailableError extends ParleyError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('stream_unavailable', `native stream unavailable: ${reason}`, options);
  }
}

/** A reply could not be delivered: the surface kept refusing or ignoring its text. */
export class DeliveryError extends ParleyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('delivery_failed', message, options);
  }
}
