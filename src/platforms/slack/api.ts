import { webApi } from '@slack/bolt';
import { NetworkError, PlatformError, RateLimitError } from '../../kernel/errors.js';
import { Pacer, type PacerSettings, type Priority } from '../../pacing/pacer.js';
import type { Logger } from '../../kernel/logger.js';

/**
 * The Slack Web API client, wrapped once with a Pacer. Every request of the adapter goes
 * through `call`: it waits for its bucket/scope, reads its parameters only when it leaves the
 * queue (so a queued edit carries the newest text), and turns Slack's answers into the core
 * errors: 429 → RateLimitError (and retried after Retry-After), `ok:false` → PlatformError.
 */

export const CHAT_UPDATE_PER_MINUTE = 50; // Slack Tier 3 for chat.update, per workspace
/** Updates are spread evenly over the minute: a burst would spend the whole minute's budget in a
 * second and leave every reply in the workspace (and its final text) waiting for the refill. */
export const CHAT_UPDATE_MIN_INTERVAL_MS = 60_000 / CHAT_UPDATE_PER_MINUTE;
/** chat.postMessage: "about 1 per second per channel, short bursts tolerated". The burst is not
 * published: start from 3 a second and adopt what a 429 shows (the `learn` rule below). */
export const POST_MESSAGE_BURST = { amount: 3, intervalMs: 1_000 + 100 }; // +100 ms: a request's travel must not land a 4th inside Slack's second
/** How long a limit learned from a 429 is kept for a method and scope. */
export const LEARNED_LIMIT_MS = 10 * 60_000;
export const APPEND_STREAM_PER_MINUTE = 100; // Slack Tier 4 for chat.appendStream, per workspace
export const APPEND_STREAM_MIN_INTERVAL_MS = 500; // coalesces token deltas into fewer appends
export const START_STOP_STREAM_PER_MINUTE = 20; // Slack Tier 2 for chat.startStream / chat.stopStream
export const LOOKUP_PER_MINUTE = 100; // users.info / conversations.info, Tier 4
export const RESPONSE_URL_MAX_USES = 5; // a slash command's response_url: 5 posts within 30 minutes
/** How often one request is retried after 429s before the error reaches the caller. */
export const MAX_RATE_LIMIT_RETRIES = 6;

export type SlackBucket = 'update' | 'post' | 'append' | 'streamStart' | 'streamStop' | 'lookup' | 'misc' | 'response';

/** Slack's limits as pacing buckets, scoped per workspace or per channel as Slack counts them. */
export const SLACK_PACING: Omit<PacerSettings, 'cluster'> = {
  buckets: {
    // Where Slack leaves the size open (a burst of posts, Tier 2's "20+ per minute"), a scope adopts
    // the limit a 429 reveals, for a while. Updates and appends are spread evenly within their tier.
    update: { minTimeMs: CHAT_UPDATE_MIN_INTERVAL_MS },
    post: { perInterval: POST_MESSAGE_BURST, learn: { windowMs: POST_MESSAGE_BURST.intervalMs, forMs: LEARNED_LIMIT_MS } },
    append: { minTimeMs: APPEND_STREAM_MIN_INTERVAL_MS, perInterval: { amount: APPEND_STREAM_PER_MINUTE, intervalMs: 60_000 } },
    // Tier limits are per method: starts and stops have a budget each.
    streamStart: { perInterval: { amount: START_STOP_STREAM_PER_MINUTE, intervalMs: 60_000 }, learn: { windowMs: 60_000, forMs: LEARNED_LIMIT_MS } },
    streamStop: { perInterval: { amount: START_STOP_STREAM_PER_MINUTE, intervalMs: 60_000 }, learn: { windowMs: 60_000, forMs: LEARNED_LIMIT_MS } },
    lookup: { maxConcurrent: 4, perInterval: { amount: LOOKUP_PER_MINUTE, intervalMs: 60_000 } },
    misc: { maxConcurrent: 4 },
    response: {},
  },
};

/** A pacer of its own (tests, library use); Parley passes the shared, Redis-clustered one. */
export function createSlackPacer(): Pacer {
  return new Pacer(SLACK_PACING);
}

export interface CallOptions {
  bucket: SlackBucket;
  /** The rate-limit scope: the workspace (team id) or the channel, as the method's limit is counted. */
  scope: string;
  priority?: Priority;
  /** Retry after 429s (default true): the pacer already holds the scope for Retry-After. */
  retryRateLimited?: boolean;
}

export type Params = Record<string, unknown>;

export class SlackApi {
  readonly client: InstanceType<typeof webApi.WebClient>;

  constructor(
    token: string,
    apiUrl: string | undefined,
    readonly pacer: Pacer,
    private readonly log: Logger,
  ) {
    this.client = new webApi.WebClient(token, slackClientOptions(apiUrl, log));
  }

  /** Calls `method` with the parameters `params()` returns when the request leaves the pacer. */
  async call<T = Record<string, any>>(method: string, params: () => Params, o: CallOptions): Promise<T> {
    // 429s are retried by the pacer (one retry loop for every platform), after it held the scope for Retry-After.
    return this.pacer.schedule(o.bucket, o.scope, () => this.send<T>(method, params()), o.priority ?? 'normal', {
      retries: o.retryRateLimited === false ? 0 : MAX_RATE_LIMIT_RETRIES,
    });
  }

  private async send<T>(method: string, params: Params): Promise<T> {
    try {
      return (await this.client.apiCall(method, params)) as T;
    } catch (err) {
      throw toPlatformError(method, err);
    }
  }

  /** POSTs to a slash command's `response_url` (not a Web API method: no token, JSON body). */
  async respond(url: string, body: Params, priority: Priority = 'normal'): Promise<void> {
    await this.pacer.schedule(
      'response',
      url,
      async () => {
        let res: Response;
        try {
          res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        } catch (err) {
          throw new NetworkError('slack response_url unreachable', { cause: err });
        }
        const text = await res.text();
        if (res.status === 429) throw new RateLimitError(`slack:response_url`, retryAfterMs(res.headers.get('retry-after')));
        if (!res.ok) throw new PlatformError('slack', 'response_url', errorString(text) ?? `http_${res.status}`);
      },
      priority,
    );
  }
}

/** Web API client options: no built-in retries or queue pausing, since the Pacer paces. */
export function slackClientOptions(apiUrl: string | undefined, log: Logger) {
  return {
    ...(apiUrl ? { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: boltLogger(log),
  };
}

export function toPlatformError(method: string, err: unknown): Error {
  const e = err as { code?: string; retryAfter?: number; data?: { error?: string }; statusCode?: number };
  switch (e?.code) {
    case webApi.ErrorCode.RateLimitedError:
      return new RateLimitError(`slack:${method}`, Math.max(1, e.retryAfter ?? 1) * 1000, { cause: err });
    case webApi.ErrorCode.PlatformError:
      return new PlatformError('slack', method, e.data?.error ?? 'unknown_error', { cause: err });
    case webApi.ErrorCode.HTTPError:
      return new PlatformError('slack', method, `http_${e.statusCode ?? 0}`, { cause: err });
    case webApi.ErrorCode.RequestError:
      return new NetworkError(`slack ${method}: no answer`, { cause: err });
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** The platform error string of a failed call, if it is one. */
export function slackErrorCode(err: unknown): string | undefined {
  return err instanceof PlatformError ? err.platformCode : undefined;
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000;
}

function errorString(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

/**
 * Bolt's and web-api's logger interface over pino. Their debug output can carry payloads
 * (message text), so it is dropped; their info goes to debug.
 */
export function boltLogger(log: Logger) {
  let level = 'info' as string;
  const line = (args: unknown[]) =>
    args
      .map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : ''))
      .join(' ')
      .slice(0, 300);
  return {
    debug: () => {},
    info: (...args: unknown[]) => log.debug({ source: 'bolt' }, line(args)),
    warn: (...args: unknown[]) => log.warn({ source: 'bolt' }, line(args)),
    error: (...args: unknown[]) => log.error({ source: 'bolt' }, line(args)),
    setLevel: (l: string) => {
      level = l;
    },
    getLevel: () => level as any,
    setName: () => {},
  };
}
