/**
 * Discord-like per-route rate limits for the fake: each request is counted in its route's bucket
 * (message creation and message edits per channel, thread creation per guild), every answer
 * carries the bucket's X-RateLimit-* headers, and a request over the limit gets a 429 with
 * `retry_after`, as Discord answers them.
 */

export interface RouteLimit {
  amount: number;
  windowMs: number;
  /** `shared`: a limit shared by a resource (the guild's thread creation); `user`: the bot's own. */
  scope: 'user' | 'shared';
}

/**
 * Measured practice, not published: about 5 message creations and 5 edits per 5 s per channel.
 * Thread creation shares a per-guild limit whose size Discord does not publish; the fake uses 50
 * per 10 s (a burst of a busy support channel), settable per test.
 */
export const DEFAULT_ROUTE_LIMITS = {
  createMessage: { amount: 5, windowMs: 5_000, scope: 'user' },
  editMessage: { amount: 5, windowMs: 5_000, scope: 'user' },
  createThread: { amount: 50, windowMs: 10_000, scope: 'shared' },
} satisfies Record<string, RouteLimit>;

export type RouteName = keyof typeof DEFAULT_ROUTE_LIMITS;

export type LimitAnswer = { limited: false; headers: Record<string, string> } | { limited: true; retryAfterMs: number; headers: Record<string, string> };

export class RouteLimiter {
  enabled = true;
  limits: Record<RouteName, RouteLimit> = { ...DEFAULT_ROUTE_LIMITS };
  private readonly windows = new Map<string, { start: number; count: number }>();

  /** Counts a request to `route` for `resource` (a channel or guild id). */
  take(route: RouteName, resource: string): LimitAnswer | undefined {
    if (!this.enabled) return undefined;
    const limit = this.limits[route];
    const key = `${route}:${resource}`;
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= limit.windowMs) this.windows.set(key, (w = { start: now, count: 0 }));
    const resetAfterMs = Math.max(1, w.start + limit.windowMs - now);
    const bucket = Buffer.from(`${route}`).toString('hex').slice(0, 16);
    const headers = (remaining: number): Record<string, string> => ({
      'x-ratelimit-bucket': bucket,
      'x-ratelimit-limit': String(limit.amount),
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String((now + resetAfterMs) / 1000),
      'x-ratelimit-reset-after': String(resetAfterMs / 1000),
    });
    if (w.count >= limit.amount) {
      return {
        limited: true,
        retryAfterMs: resetAfterMs,
        headers: { ...headers(0), 'retry-after': String(Math.ceil(resetAfterMs / 1000)), 'x-ratelimit-scope': limit.scope },
      };
    }
    w.count++;
    return { limited: false, headers: headers(limit.amount - w.count) };
  }
}
