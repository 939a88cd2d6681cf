import type Keyv from 'keyv';
import type { IncomingMessage } from '../kernel/types.js';
import type { Store } from '../store/store.js';
import { exclusive } from '../store/exclusive.js';

/** One model call, as the ledger keeps it. Costs are in micro-units of the price table's currency. */
export interface LedgerRow {
  at: number;
  platform: string;
  workspace: string;
  channel: string;
  user: string;
  profile: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** Counted locally because the server never reported usage (e.g. it died mid-stream). */
  estimated?: true;
  /** Undefined when the model has no price in the table. */
  costMicros?: number;
  latencyMs: number;
  firstTokenMs?: number;
  /** `ok`, or the error code of a failed call. */
  outcome: string;
}

/** Prices per million tokens, from the config file's model table (issue 5). */
export type PriceOf = (model: string) => { inPerM: number; outPerM: number } | undefined;

const DAY_MS = 86_400_000;
/** Aggregates (no identity) are kept this long, for monthly reports and budgets. */
const AGGREGATE_TTL_MS = 400 * DAY_MS;

export const dayOf = (t: number) => new Date(t).toISOString().slice(0, 10);
export const monthOf = (t: number) => new Date(t).toISOString().slice(0, 7);
/** Ms until the next UTC midnight / first of next month. */
export const untilNextDay = (t: number) => DAY_MS - (t % DAY_MS);
export function untilNextMonth(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - t;
}

/** The identities a message is counted under. */
export function scopesOf(m: Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'user'>) {
  return {
    user: `${m.platform}:${m.user.id}`,
    channel: `${m.platform}:${m.workspace}:${m.channel}`,
    workspace: `${m.platform}:${m.workspace}`,
  };
}

export function costMicros(priceOf: PriceOf | undefined, model: string, promptTokens: number, completionTokens: number): number | undefined {
  const p = priceOf?.(model);
  if (!p) return undefined;
  // Price per million tokens = micro-units per token.
  return Math.round(promptTokens * p.inPerM + completionTokens * p.outPerM);
}

/**
 * The usage ledger. Per-call rows are personal (they name the user) and are kept per user per
 * UTC day for `retentionMs`, deletable by `/parley forget`. Daily aggregates per profile and
 * model carry no identity and stay. Budget counters are atomic store counters, so every
 * instance sharing a Redis store sees the same totals.
 */
export class UsageLedger {
  private readonly rows: Keyv<LedgerRow[]>;
  private readonly index: Keyv<string[]>;
  constructor(private readonly store: Store) {
    this.rows = store.namespace<LedgerRow[]>('ledger');
    this.index = store.namespace<string[]>('ledger-conversations');
  }

  async record(row: LedgerRow, retentionMs: number, conversation?: { key: string; retentionMs: number | undefined }): Promise<void> {
    const user = `${row.platform}:${row.user}`;
    const key = `rows:${user}:${dayOf(row.at)}`;
    // One hold for the turn's writes of this person's records (each hold is a claim and a release in the store).
    await locked(this.store, `ledger:${user}`, async () => {
      if (conversation) await this.noteLocked(user, conversation.key, conversation.retentionMs);
      const list = (await this.rows.get(key)) ?? [];
      list.push(row);
      await this.rows.set(key, list, retentionMs);
    });
    const agg = `agg:${dayOf(row.at)}:${row.profile}:${row.model}`;
    await Promise.all([
      this.store.increment(`${agg}:calls`, 1, AGGREGATE_TTL_MS),
      this.store.increment(`${agg}:prompt`, row.promptTokens, AGGREGATE_TTL_MS),
      this.store.increment(`${agg}:completion`, row.completionTokens, AGGREGATE_TTL_MS),
      this.store.increment(`${agg}:cost`, row.costMicros ?? 0, AGGREGATE_TTL_MS),
    ]);
  }

  /** The user's rows from the last `days` UTC days (today included), oldest first. */
  async rowsOf(userScope: string, days: number, now = Date.now()): Promise<LedgerRow[]> {
    const keys = dayKeys(userScope, days, now);
    const lists = await this.rows.getMany(keys);
    return lists.flatMap((l) => l ?? []);
  }

  /** Identity-free totals for one day, profile and model. */
  async aggregate(day: string, profile: string, model: string): Promise<{ calls: number; prompt: number; completion: number; cost: number }> {
    const agg = `agg:${day}:${profile}:${model}`;
    const [calls, prompt, completion, cost] = await Promise.all(
      ['calls', 'prompt', 'completion', 'cost'].map((k) => this.store.increment(`${agg}:${k}`, 0, AGGREGATE_TTL_MS)),
    );
    return { calls: calls!, prompt: prompt!, completion: completion!, cost: cost! };
  }

  /**
   * Remembers that `user` took part in `conversation`, so `/parley forget` can find it (`record`
   * does it too, under the same hold, for a turn that also called the model).
   */
  async noteConversation(userScope: string, conversation: string, retentionMs: number | undefined): Promise<void> {
    await locked(this.store, `ledger:${userScope}`, () => this.noteLocked(userScope, conversation, retentionMs));
  }

  private async noteLocked(userScope: string, conversation: string, retentionMs: number | undefined): Promise<void> {
    const list = (await this.index.get(userScope)) ?? [];
    if (!list.includes(conversation)) list.push(conversation);
    // Written every time: the index must outlive the newest conversation it points to.
    await this.index.set(userScope, list, retentionMs);
  }

  async conversationsOf(userScope: string): Promise<string[]> {
    return (await this.index.get(userScope)) ?? [];
  }

  /**
   * Deletes the user's rows (within `retentionDays`) and conversation index; returns how many rows.
   * With `workspace`, only what was recorded there (an HTTP API key deletes its own end users' records).
   */
  async forgetUser(userScope: string, retentionDays: number, now = Date.now(), workspace?: string): Promise<number> {
    return locked(this.store, `ledger:${userScope}`, async () => {
      const keys = dayKeys(userScope, retentionDays + 2, now);
      const lists = await this.rows.getMany(keys);
      if (workspace === undefined) {
        const count = lists.reduce((n, l) => n + (l?.length ?? 0), 0);
        await this.rows.deleteMany(keys);
        await this.index.delete(userScope);
        return count;
      }
      let count = 0;
      for (const [i, list] of lists.entries()) {
        if (!list) continue;
        const kept = list.filter((r) => r.workspace !== workspace);
        count += list.length - kept.length;
        if (kept.length === list.length) continue;
        // The day's record keeps its original expiry: the retention counts from that day.
        if (kept.length)
          await this.rows.set(keys[i]!, kept, Math.max(1, (retentionDays + 1) * DAY_MS - (now - Date.parse(`${keys[i]!.slice(-10)}T00:00:00Z`))));
        else await this.rows.delete(keys[i]!);
      }
      await this.dropConversationsLocked(userScope, (c) => c.startsWith(`${userScope.split(':')[0]}:${workspace}:`));
      return count;
    });
  }

  /** Forgets that the user took part in `conversation` (it was deleted). */
  async dropConversation(userScope: string, conversation: string): Promise<void> {
    await locked(this.store, `ledger:${userScope}`, () => this.dropConversationsLocked(userScope, (c) => c === conversation));
  }

  private async dropConversationsLocked(userScope: string, drop: (conversation: string) => boolean): Promise<void> {
    const list = await this.index.get(userScope);
    if (!list) return;
    const kept = list.filter((c) => !drop(c));
    if (kept.length === list.length) return;
    // The index's own expiry is not readable through Keyv: bounded here, renewed at the person's next turn.
    if (kept.length) await this.index.set(userScope, kept, AGGREGATE_TTL_MS);
    else await this.index.delete(userScope);
  }
}

function dayKeys(userScope: string, days: number, now: number): string[] {
  return Array.from({ length: days }, (_, i) => `rows:${userScope}:${dayOf(now - i * DAY_MS)}`);
}

/** A person's ledger rows are rewritten under a store hold (across instances on Redis); a turn waits a few seconds for it at most. */
function locked<T>(store: Store, key: string, fn: () => Promise<T>): Promise<T> {
  return exclusive(store, key, fn, { holdMs: 10_000, maxWaitMs: 4_000 });
}
