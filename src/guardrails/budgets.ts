import type { Logger } from '../kernel/logger.js';
import type { IncomingMessage } from '../kernel/types.js';
import type { Store } from '../store/store.js';
import { dayOf, monthOf, scopesOf, untilNextDay, untilNextMonth } from './ledger.js';
import type { GuardrailSettings } from '../config/guardrails.js';

type BudgetSettings = GuardrailSettings['budgets'];

/** Told when a budget passes an alert threshold (once per budget, period and threshold). */
export type AdminNotifier = (text: string, alert: BudgetAlert) => void | Promise<void>;

export interface BudgetAlert {
  budget: BudgetName;
  /** The user, channel or workspace the budget belongs to; `all` for the monthly cost. */
  scope: string;
  period: string;
  threshold: number;
  used: number;
  limit: number;
}

export type BudgetName = 'user_daily_tokens' | 'channel_daily_tokens' | 'workspace_daily_tokens' | 'monthly_cost';

export interface BudgetState {
  budget: BudgetName;
  scope: string;
  period: string;
  used: number;
  limit: number;
  /** Ms until the period ends. */
  resetsInMs: number;
}

/** An amount reserved on one counter (its key names its period, so settling after midnight is exact). */
export interface BudgetHold {
  key: string;
  by: number;
  ttl: number;
}

const DAY_MS = 86_400_000;
const COUNTER_TTL_MS = 2 * DAY_MS;
const MONTH_COUNTER_TTL_MS = 40 * DAY_MS;

export const BUDGET_WORDS: Record<BudgetName, string> = {
  user_daily_tokens: 'your daily token budget',
  channel_daily_tokens: "this channel's daily token budget",
  workspace_daily_tokens: "this workspace's daily token budget",
  monthly_cost: 'the monthly cost budget',
};

/** Budget names for admins, who need to know whose budget it is. */
const ALERT_NAMES: Record<BudgetName, string> = {
  user_daily_tokens: 'daily token budget of user',
  channel_daily_tokens: 'daily token budget of channel',
  workspace_daily_tokens: 'daily token budget of workspace',
  monthly_cost: 'monthly cost budget',
};

/**
 * Token budgets per user, channel and workspace per UTC day, and one monthly cost budget for
 * the whole installation; all atomic store counters (shared across instances on Redis),
 * reserved before a model call and settled with the real usage after it.
 * The counters are budget state, not the ledger: `/parley forget` leaves the caller's daily
 * counter running until the day ends, so forgetting cannot reset a budget.
 */
export class Budgets {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly notifyAdmins?: AdminNotifier,
  ) {}

  private counters(m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'user'>, now: number) {
    const s = scopesOf(m);
    const day = dayOf(now);
    const month = monthOf(now);
    return [
      {
        budget: 'user_daily_tokens' as const,
        scope: s.user,
        period: day,
        key: `budget:tokens:user:${s.user}:${day}`,
        ttl: COUNTER_TTL_MS,
        reset: untilNextDay(now),
      },
      {
        budget: 'channel_daily_tokens' as const,
        scope: s.channel,
        period: day,
        key: `budget:tokens:channel:${s.channel}:${day}`,
        ttl: COUNTER_TTL_MS,
        reset: untilNextDay(now),
      },
      {
        budget: 'workspace_daily_tokens' as const,
        scope: s.workspace,
        period: day,
        key: `budget:tokens:workspace:${s.workspace}:${day}`,
        ttl: COUNTER_TTL_MS,
        reset: untilNextDay(now),
      },
      { budget: 'monthly_cost' as const, scope: 'all', period: month, key: `budget:cost:${month}`, ttl: MONTH_COUNTER_TTL_MS, reset: untilNextMonth(now) },
    ];
  }

  private static limitOf(budget: BudgetName, b: BudgetSettings): number | undefined {
    switch (budget) {
      case 'user_daily_tokens':
        return b.dailyTokens.perUser;
      case 'channel_daily_tokens':
        return b.dailyTokens.perChannel;
      case 'workspace_daily_tokens':
        return b.dailyTokens.perWorkspace;
      case 'monthly_cost':
        // Settings hold currency units; counters hold micro-units.
        return b.monthlyCost === undefined ? undefined : Math.round(b.monthlyCost * 1_000_000);
    }
  }

  /** Whether any budget has a limit (without one, nothing is reserved or refused). */
  static limited(b: BudgetSettings): boolean {
    const d = b.dailyTokens;
    return d.perUser !== undefined || d.perChannel !== undefined || d.perWorkspace !== undefined || b.monthlyCost !== undefined;
  }

  /** Every budget that applies to `m`, with what is used. */
  async states(m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'user'>, b: BudgetSettings, now = Date.now()): Promise<BudgetState[]> {
    const out: BudgetState[] = [];
    for (const c of this.counters(m, now)) {
      const limit = Budgets.limitOf(c.budget, b);
      if (limit === undefined) continue;
      const used = await this.store.increment(c.key, 0, c.ttl);
      out.push({ budget: c.budget, scope: c.scope, period: c.period, used, limit, resetsInMs: c.reset });
    }
    return out;
  }

  /** The first budget that is used up, if any. */
  async spent(m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'user'>, b: BudgetSettings, now = Date.now()): Promise<BudgetState | undefined> {
    return (await this.states(m, b, now)).find((s) => s.used >= s.limit);
  }

  /**
   * Reserves a turn's estimated tokens and cost from every budget that applies, before the model
   * is called: atomic per counter (shared across instances on Redis), so concurrent turns pass a
   * budget by less than one reservation. Refused = the first budget already used up (what was
   * reserved from the others is given back). Settle with `release`, then `add` the real usage.
   */
  async reserve(
    m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'user'>,
    tokens: number,
    costMicros: number,
    b: BudgetSettings,
    now = Date.now(),
  ): Promise<{ held: BudgetHold[]; spent?: BudgetState }> {
    const held: BudgetHold[] = [];
    for (const c of this.counters(m, now)) {
      const limit = Budgets.limitOf(c.budget, b);
      if (limit === undefined) continue;
      const by = Math.max(0, Math.ceil(c.budget === 'monthly_cost' ? costMicros : tokens));
      const r = await this.store.reserve(c.key, by, limit, c.ttl);
      if (!r.granted) {
        await this.release(held);
        return { held: [], spent: { budget: c.budget, scope: c.scope, period: c.period, used: r.value, limit, resetsInMs: c.reset } };
      }
      held.push({ key: c.key, by, ttl: c.ttl });
    }
    return { held };
  }

  /** Gives reserved amounts back (the real usage is then counted with `add`). */
  async release(held: BudgetHold[]): Promise<void> {
    for (const h of held) if (h.by) await this.store.increment(h.key, -h.by, h.ttl);
  }

  /** Adds one call's tokens and cost; tells admins about thresholds it crossed. */
  async add(
    m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'user'>,
    tokens: number,
    costMicros: number,
    b: BudgetSettings,
    now = Date.now(),
  ): Promise<void> {
    for (const c of this.counters(m, now)) {
      const by = c.budget === 'monthly_cost' ? costMicros : tokens;
      const used = await this.store.increment(c.key, by, c.ttl);
      const limit = Budgets.limitOf(c.budget, b);
      if (limit === undefined || by === 0) continue;
      const before = used - by;
      for (const threshold of b.alertAt) {
        const mark = threshold * limit;
        if (before < mark && used >= mark) await this.alert({ budget: c.budget, scope: c.scope, period: c.period, threshold, used, limit }, c.ttl);
      }
    }
  }

  private async alert(a: BudgetAlert, ttl: number): Promise<void> {
    // Once per budget, period and threshold, even when several instances cross it together.
    if (!(await this.store.claim(`budget-alert:${a.budget}:${a.scope}:${a.period}:${a.threshold}`, ttl, 'alert'))) return;
    const text = describeAlert(a);
    this.log.warn({ budget: a.budget, scope: a.scope, period: a.period, threshold: a.threshold, used: a.used, limit: a.limit }, 'budget threshold reached');
    try {
      await this.notifyAdmins?.(text, a);
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err), budget: a.budget }, 'notifying admins failed');
    }
  }
}

export function formatBudgetAmount(budget: BudgetName, n: number, unit = true): string {
  if (budget === 'monthly_cost') return `$${(n / 1_000_000).toFixed(2)}`;
  return `${n.toLocaleString('en-US')}${unit ? ' tokens' : ''}`;
}

/** "1,100 of 1,000 tokens", "$1.00 of $1.00" */
export function formatUsedOf(budget: BudgetName, used: number, limit: number): string {
  return `${formatBudgetAmount(budget, used, false)} of ${formatBudgetAmount(budget, limit)}`;
}

export function describeAlert(a: BudgetAlert): string {
  const pct = Math.round(a.threshold * 100);
  const whose = a.budget === 'monthly_cost' ? '' : ` ${a.scope}`;
  return `Parley budget alert: the ${ALERT_NAMES[a.budget]}${whose} for ${a.period} has reached ${pct}% (${formatUsedOf(a.budget, a.used, a.limit)}).`;
}
