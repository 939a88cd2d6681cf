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
  /**
   * Learn the platform's limit from its first 429 (Slack publishes tiers, not burst sizes): the
   * requests that succeeded in the last `windowMs` become the scope's budget per `windowMs` for
   * `forMs`, so a burst meets at most one 429 instead of one per queued request.
   */
  learn?: { windowMs: number; forMs: number };
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

/**
 * `final` updates (the exact last text) leave before `progress` updates; `first` (a reply's first
 * words) leave before a busy scope's edits, so askers are not starved by earlier replies. Only
 * `progress` leaves the global requests kept by reserveGlobal free.
 */
export type Priority = 'final' | 'first' | 'normal' | 'progress';
const PRIORITY: Record<Priority, number> = { final: 1, first: 2, normal: 4, progress: 7 };

/** What a platform's response says about its bucket (Discord: X-RateLimit-Remaining / Reset-After). */
export interface BucketState {
  remaining: number;
  resetAfterMs: number;
  /** The bucket's size (X-RateLimit-Limit), when known. */
  limit?: number;
}
/** Margin after a bucket's announced reset: the platform's clock and ours differ by the request's travel. */
const RESET_MARGIN_MS = 50;
/** A global reservation not released by then lapses (a reply whose first words never came). */
const RESERVATION_TTL_MS = 60_000;

export interface ScheduleOptions {
  /** Retries after 429s (default 0: the caller decides, e.g. a renderer sending newer text instead). */
  retries?: number;
  /**
   * Aborted when a waiting request becomes urgent (a progress update now carrying a reply's
   * final text, see SendOptions.hurry): from then on it waits only for what an urgent request
   * waits for (an empty bucket or a 429, the global budget), not for a bucket's spread or the
   * requests kept by reserveGlobal.
   */
  hurry?: AbortSignal;
}

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
  /** Soft spacing from a half-spent bucket (observe): progress waits for it; first words and final text do not. */
  private readonly spreadUntil = new Map<string, number>();
  /** Budget slots taken ahead by `tryTake`, per bucket and scope. */
  private readonly prepaid = new Map<string, number>();
  private readonly budgets = new Map<string, { amount: number; intervalMs: number }>();
  private readonly learnRules = new Map<string, { windowMs: number; forMs: number }>();
  /** Per learning scope: success times within the learning window, and the budget learned from a 429. */
  private readonly successes = new Map<string, number[]>();
  private readonly learned = new Map<string, { amount: number; intervalMs: number; until: number }>();
  private readonly globalBudget?: { amount: number; intervalMs: number };
  /** Global requests kept for urgent requests still to come (reserveGlobal), until these times. */
  private readonly reservations = new Map<number, number>();
  private nextReservation = 0;
  private readonly window: WindowLog;

  constructor(
    settings: PacerSettings,
    private readonly observer: PacerObserver = {},
  ) {
    this.window = settings.window ?? windowLog();
    this.globalBudget = settings.global?.perInterval;
    for (const [bucket, rule] of Object.entries(settings.buckets)) {
      if (rule.perInterval) this.budgets.set(bucket, rule.perInterval);
      if (rule.learn) this.learnRules.set(bucket, rule.learn);
    }
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
   * RateLimitError the scope waits `retryAfterMs` before its next request; with `retries`, the
   * request is queued again (the one retry loop for every platform), otherwise the error is
   * rethrown so the caller decides whether the request is still worth sending.
   */
  async schedule<T>(bucket: string, scope: string, fn: () => Promise<T>, priority: Priority = 'normal', o: ScheduleOptions = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.scheduleOnce(bucket, scope, fn, priority, { hurry: o.hurry });
      } catch (err) {
        if (!(err instanceof RateLimitError) || attempt >= (o.retries ?? 0)) throw err;
      }
    }
  }

  /**
   * A request worth sending only now (a typing indicator): when its turn comes it is dropped,
   * `fn` never called and undefined returned, if `wanted()` says it is no longer needed, its
   * scope is held after a 429, or the global budget has less than half left beyond what is
   * reserved (reserveGlobal): the rest is for requests that cannot be dropped, a crowd's first words.
   */
  async scheduleOptional<T>(bucket: string, scope: string, fn: () => Promise<T>, wanted: () => boolean = () => true): Promise<T | undefined> {
    let result: T | undefined;
    await this.scheduleOnce(bucket, scope, async () => void (result = await fn()), 'normal', { optional: wanted });
    return result;
  }

  /**
   * Keeps one request of the global budget for an urgent request still to come (a reply's first
   * words while the model is thinking): until released, requests that can wait (`progress`)
   * leave it free, so the last of a crowd of askers does not find the budget spent by earlier
   * replies' edits. At most half the budget is kept; a reservation lapses after
   * RESERVATION_TTL_MS. Kept per process: instances sharing a budget through Redis each keep
   * room for their own replies. Returns the release (idempotent).
   */
  reserveGlobal(): () => void {
    if (!this.globalBudget) return () => undefined;
    const id = this.nextReservation++;
    this.reservations.set(id, Date.now() + RESERVATION_TTL_MS);
    return () => void this.reservations.delete(id);
  }

  /** Counts a request sent outside the pacer (by a client library itself) against the global budget. */
  async countGlobal(): Promise<void> {
    const b = this.globalBudget;
    if (b) await this.window.take('global', Number.MAX_SAFE_INTEGER, b.intervalMs);
  }

  /** Global requests currently kept by reserveGlobal (for diagnostics and tests). */
  reservedGlobal(): number {
    const now = Date.now();
    for (const [id, until] of this.reservations) if (until <= now) this.reservations.delete(id);
    return Math.min(this.reservations.size, Math.floor((this.globalBudget?.amount ?? 0) / 2));
  }

  private scheduleOnce<T>(
    bucket: string,
    scope: string,
    fn: () => Promise<T>,
    priority: Priority,
    o: { optional?: () => boolean; hurry?: AbortSignal } = {},
  ): Promise<T> {
    const group = this.groups.get(bucket);
    if (!group) throw new Error(`unknown pacing bucket "${bucket}"`);
    const key = `${bucket}:${scope}`;
    const { optional, hurry } = o;
    return group.key(scope).schedule({ priority: PRIORITY[priority] }, async () => {
      // Only scheduleOptional passes `optional`, and its fn returns nothing: dropping returns undefined.
      if (optional && !(await this.optionalMayGo(key, optional))) return undefined as T;
      // An empty bucket (or a 429) holds everything; the spread of a half-spent one only holds
      // requests that can wait (the bucket still has room for a first or final text).
      const urgent = () => priority === 'final' || priority === 'first' || hurry?.aborted === true;
      const hold = (this.cooldownUntil.get(key) ?? 0) - Date.now();
      const wait = urgent() ? hold : Math.max(hold, (this.spreadUntil.get(key) ?? 0) - Date.now());
      if (wait > 0) await pause(wait, urgent() ? undefined : hurry);
      // Hurried out of a spread: a 429 or an empty bucket still holds it.
      const left = (this.cooldownUntil.get(key) ?? 0) - Date.now();
      if (left > 0) await pause(left);
      this.cooldownUntil.delete(key);
      // The scope holds its turn while its budget refills, as a platform counting a window would have it.
      // An optional request already took its global slot (optionalMayGo).
      if (this.globalBudget && !optional) await this.spendGlobal(() => priority === 'progress' && !urgent(), hurry);
      const budget = this.budgets.get(bucket);
      if (budget && !this.usePrepaid(key)) await this.spend(key, budget);
      const learned = this.learned.get(key);
      if (learned && learned.until > Date.now()) await this.spend(`learned:${key}`, learned);
      else if (learned) this.learned.delete(key);
      try {
        const result = await fn();
        this.noteSuccess(bucket, key);
        this.observer.onRequest?.(bucket, 'ok');
        return result;
      } catch (err) {
        if (err instanceof RateLimitError) {
          this.cooldownUntil.set(key, Date.now() + err.retryAfterMs);
          this.learnFrom429(bucket, key);
          this.observer.onRequest?.(bucket, 'rate_limited', err.retryAfterMs);
        } else {
          this.observer.onRequest?.(bucket, 'error');
        }
        throw err;
      }
    });
  }

  /**
   * Follows the platform's own account of a bucket (Discord's X-RateLimit-* headers): an empty
   * bucket holds the scope until it resets. The first half of a bucket goes at once (a burst of
   * first words, of thread creations); the second half is spread evenly over the time left, so
   * the last request (a final edit) never waits for a whole reset behind progress edits.
   */
  observe(bucket: string, scope: string, state: BucketState): void {
    if (!Number.isFinite(state.remaining) || !Number.isFinite(state.resetAfterMs)) return;
    const key = `${bucket}:${scope}`;
    if (state.limit !== undefined && state.remaining * 2 > state.limit) return;
    const empty = state.remaining <= 0;
    const until = Date.now() + (empty ? state.resetAfterMs + RESET_MARGIN_MS : state.resetAfterMs / (state.remaining + 1));
    const holds = empty ? this.cooldownUntil : this.spreadUntil;
    if (until > (holds.get(key) ?? 0)) holds.set(key, until);
  }

  private noteSuccess(bucket: string, key: string): void {
    const rule = this.learnRules.get(bucket);
    if (!rule) return;
    const now = Date.now();
    const list = (this.successes.get(key) ?? []).filter((t) => now - t < rule.windowMs);
    list.push(now);
    this.successes.set(key, list);
  }

  private learnFrom429(bucket: string, key: string): void {
    const rule = this.learnRules.get(bucket);
    if (!rule) return;
    const now = Date.now();
    const seen = (this.successes.get(key) ?? []).filter((t) => now - t < rule.windowMs).length;
    // What got through before the 429 is what the platform allows per window. A 429 before any
    // success says nothing about the rate (another client spent it): only Retry-After applies.
    if (seen === 0) return;
    const amount = seen;
    const current = this.learned.get(key);
    if (!current || current.until <= now || amount < current.amount) this.learned.set(key, { amount, intervalMs: rule.windowMs, until: now + rule.forMs });
  }

  /** The budget learned from a 429 for `bucket`/`scope`, while it holds (for diagnostics and tests). */
  learnedLimit(bucket: string, scope: string): { amount: number; intervalMs: number } | undefined {
    const l = this.learned.get(`${bucket}:${scope}`);
    return l && l.until > Date.now() ? { amount: l.amount, intervalMs: l.intervalMs } : undefined;
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
    const key = `${bucket}:${scope}`;
    if ((this.cooldownUntil.get(key) ?? 0) > Date.now()) return false;
    const learned = this.learned.get(key);
    if (learned && learned.until > Date.now() && !(await this.window.fits(`learned:${key}`, learned.amount, learned.intervalMs))) return false;
    const budget = this.budgets.get(bucket);
    return !budget || this.window.fits(key, budget.amount, budget.intervalMs);
  }

  /**
   * Takes one request of `bucket`/`scope`'s budget now if it has room, for a request scheduled
   * later (it then spends nothing more). Unlike `hasCapacity` then `schedule`, a crowd asking at
   * once cannot all see the same last slot: each answer is decided against what is already taken.
   */
  async tryTake(bucket: string, scope: string): Promise<boolean> {
    if (!(await this.hasCapacity(bucket, scope))) return false;
    const key = `${bucket}:${scope}`;
    const budget = this.budgets.get(bucket);
    if (budget && (await this.window.take(key, budget.amount, budget.intervalMs)) > 0) return false;
    this.prepaid.set(key, (this.prepaid.get(key) ?? 0) + 1);
    return true;
  }

  /** Uses one request taken ahead by `tryTake`, if any. */
  private usePrepaid(key: string): boolean {
    const n = this.prepaid.get(key) ?? 0;
    if (n <= 0) return false;
    if (n === 1) this.prepaid.delete(key);
    else this.prepaid.set(key, n - 1);
    return true;
  }

  /** Whether an optional request goes now; if so, its global slot is taken. */
  private async optionalMayGo(key: string, wanted: () => boolean): Promise<boolean> {
    if ((this.cooldownUntil.get(key) ?? 0) > Date.now() || !wanted()) return false;
    const b = this.globalBudget;
    if (!b) return true;
    // Half the budget, less what is kept for first words still to come.
    const share = Math.floor(b.amount / 2) - this.reservedGlobal();
    return share > 0 && (await this.window.take('global', share, b.intervalMs)) <= 0;
  }

  /** Takes one global request; one that can wait (`deferrable`) leaves the reserved ones free until hurried. */
  private async spendGlobal(deferrable: () => boolean, hurry?: AbortSignal): Promise<void> {
    const b = this.globalBudget!;
    for (;;) {
      const canWait = deferrable();
      const wait = await this.window.take('global', canWait ? b.amount - this.reservedGlobal() : b.amount, b.intervalMs);
      if (wait <= 0) return;
      await pause(wait, canWait ? hurry : undefined);
    }
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

/** Waits `ms`, or less if `signal` is aborted first. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
