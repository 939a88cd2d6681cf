import Bottleneck from 'bottleneck';
import { RateLimitError } from '../kernel/errors.js';
import { windowLog, type WindowLog } from './window.js';

/**
 * Pacing for one platform's outgoing requests, in the shape of grammY's throttler: one
 * global limiter, chained behind a Bottleneck.Group per bucket keyed by rate-limit scope
 * (a Slack workspace for chat.update, a channel for chat.postMessage, a Discord channel…).
 * Adapters wrap their client once with a Pacer; handlers never pace.
 */
export interface PaceRule {
  /** Minimum milliseconds between two requests in one scope. */
  minTimeMs?: number;
  /** Requests in flight at once in one scope (default 1, so a scope's requests leave in order). */
  maxConcurrent?: number;
  /** A budget: at most `amount` requests in any `intervalMs` (a sliding window, see window.ts) in one scope. */
  perInterval?: { amount: number; intervalMs: number };
}

export interface PacerSettings {
  /** Applies to every request of the platform (e.g. Discord's 50 requests/s per bot). */
  global?: PaceRule;
  /** Named buckets, e.g. `{ update: {...}, post: {...} }`. */
  buckets: Record<string, PaceRule>;
  /**
   * Shares the limits across instances through Redis (Bottleneck clustering): every instance
   * using the same `id` draws from one budget per scope.
   */
  cluster?: { id: string; connection: Bottleneck.IORedisConnection };
  /** Where `perInterval` budgets are counted: shared through Redis when clustered; default this process. */
  window?: WindowLog;
}

/** `final` updates (the exact last text) leave before `progress` updates. */
export type Priority = 'final' | 'normal' | 'progress';
const PRIORITY: Record<Priority, number> = { final: 1, normal: 4, progress: 7 };

export interface PacerObserver {
  /** Called after each request with its outcome. */
  onRequest?(bucket: string, outcome: 'ok' | 'rate_limited' | 'error', retryAfterMs?: number): void;
}

/** Spacing and concurrency go to Bottleneck; `perInterval` budgets are counted in the window log. */
function toBottleneck(rule: PaceRule | undefined, extra: Bottleneck.ConstructorOptions | undefined): Bottleneck.ConstructorOptions {
  return { ...extra, maxConcurrent: rule?.maxConcurrent ?? 1, minTime: rule?.minTimeMs ?? 0 };
}

export class Pacer {
  private readonly global?: Bottleneck;
  private readonly groups = new Map<string, Bottleneck.Group>();
  /** Scopes told to wait by a 429, until this time (ms since epoch). */
  private readonly cooldownUntil = new Map<string, number>();
  private readonly budgets = new Map<string, { amount: number; intervalMs: number }>();
  private readonly globalBudget?: { amount: number; intervalMs: number };
  private readonly window: WindowLog;

  constructor(settings: PacerSettings, private readonly observer: PacerObserver = {}) {
    this.window = settings.window ?? windowLog();
    this.globalBudget = settings.global?.perInterval;
    for (const [bucket, rule] of Object.entries(settings.buckets)) if (rule.perInterval) this.budgets.set(bucket, rule.perInterval);
    const cluster = settings.cluster;
    const extra = (id: string): Bottleneck.ConstructorOptions | undefined =>
      cluster && { datastore: 'ioredis', connection: cluster.connection, id: `${cluster.id}:${id}`, clearDatastore: false };
    if (settings.global) {
      this.global = new Bottleneck({ ...toBottleneck(settings.global, extra('global')), maxConcurrent: settings.global.maxConcurrent ?? null });
    }
    for (const [bucket, rule] of Object.entries(settings.buckets)) {
      const group = new Bottleneck.Group(toBottleneck(rule, extra(bucket)));
      if (this.global) {
        const global = this.global;
        group.on('created', (limiter) => limiter.chain(global));
      }
      this.groups.set(bucket, group);
    }
  }

  /**
   * Runs `fn` when `bucket`/`scope` (and the global limit) allow. When `fn` throws a
   * RateLimitError the scope waits `retryAfterMs` before its next request; the error is
   * rethrown so the caller decides whether the request is still worth sending.
   */
  schedule<T>(bucket: string, scope: string, fn: () => Promise<T>, priority: Priority = 'normal'): Promise<T> {
    const group = this.groups.get(bucket);
    if (!group) throw new Error(`unknown pacing bucket "${bucket}"`);
    const key = `${bucket}:${scope}`;
    return group.key(scope).schedule({ priority: PRIORITY[priority] }, async () => {
      const wait = (this.cooldownUntil.get(key) ?? 0) - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      this.cooldownUntil.delete(key);
      // The scope holds its turn while its budget refills, as a platform counting a window would have it.
      if (this.globalBudget) await this.spend('global', this.globalBudget);
      const budget = this.budgets.get(bucket);
      if (budget) await this.spend(key, budget);
      try {
        const result = await fn();
        this.observer.onRequest?.(bucket, 'ok');
        return result;
      } catch (err) {
        if (err instanceof RateLimitError) {
          this.cooldownUntil.set(key, Date.now() + err.retryAfterMs);
          this.observer.onRequest?.(bucket, 'rate_limited', err.retryAfterMs);
        } else {
          this.observer.onRequest?.(bucket, 'error');
        }
        throw err;
      }
    });
  }

  /**
   * Whether a request in `bucket`/`scope` would leave now: nothing waiting and budget left.
   * Lets a caller choose a cheaper path instead of queueing (Slack: edit messages when the
   * stream-start budget is spent).
   */
  async hasCapacity(bucket: string, scope: string): Promise<boolean> {
    const group = this.groups.get(bucket);
    if (!group) throw new Error(`unknown pacing bucket "${bucket}"`);
    if (group.key(scope).queued() > 0) return false;
    const budget = this.budgets.get(bucket);
    return !budget || this.window.fits(`${bucket}:${scope}`, budget.amount, budget.intervalMs);
  }

  /** Waits until the window log has room for one more request under `key`, and records it. */
  private async spend(key: string, budget: { amount: number; intervalMs: number }): Promise<void> {
    for (;;) {
      const wait = await this.window.take(key, budget.amount, budget.intervalMs);
      if (wait <= 0) return;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Requests waiting across all scopes (for the queue-depth metric). */
  queued(): number {
    let n = 0;
    for (const group of this.groups.values()) for (const limiter of group.limiters()) n += limiter.limiter.queued();
    return n;
  }

  async stop(): Promise<void> {
    const all: Promise<unknown>[] = [];
    for (const group of this.groups.values()) for (const { limiter } of group.limiters()) all.push(limiter.disconnect());
    if (this.global) all.push(this.global.disconnect());
    await Promise.allSettled(all);
  }
}
