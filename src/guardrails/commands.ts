import type { ParleyCommand } from '../engine/feature.js';
import type { IncomingMessage } from '../kernel/types.js';
import type { TurnContext } from '../engine/pipeline.js';
import { BUDGET_WORDS, formatBudgetAmount, formatUsedOf, type Budgets } from './budgets.js';
import { dayOf, scopesOf, type LedgerRow, type UsageLedger } from './ledger.js';
import { isAdmin } from './access.js';
import { describeWait } from './replies.js';
import type { GuardrailSettings } from '../config/guardrails.js';

export interface CommandDeps {
  ledger: UsageLedger;
  budgets: Budgets;
  now: () => number;
}

/** `/parley usage`: the guardrails' command, with the settings of the turn's profile. */
export function guardrailCommands(settingsOf: (ctx: TurnContext) => GuardrailSettings, d: CommandDeps): ParleyCommand[] {
  return [
    {
      name: 'usage',
      help: '`/parley usage`: your usage today and this month, and what is left of your budgets (admins: `/parley usage @user`)',
      async run(ctx, args) {
        const settings = settingsOf(ctx);
        // `/parley usage @someone` is for admins: another user's usage, as that user would see it.
        const target = args[0] ? userFromArgument(args[0]) : undefined;
        if (target && !isAdmin(ctx.message, settings.access)) {
          ctx.answer = { text: "Only Parley administrators can see someone else's usage. `/parley usage` shows yours.", source: 'command' };
          return;
        }
        const subject = target ? { ...ctx.message, user: { id: target } } : ctx.message;
        const text = await usageReport(subject, settings, d);
        ctx.answer = { text: target ? text.replace(/^Your usage:/, `Usage of ${target}:`) : text, source: 'command' };
      },
    },
  ];
}

function summarize(rows: LedgerRow[]): string {
  const tokens = rows.reduce((n, r) => n + r.promptTokens + r.completionTokens, 0);
  const cost = rows.reduce((n, r) => n + (r.costMicros ?? 0), 0);
  const calls = `${rows.length} question${rows.length === 1 ? '' : 's'}`;
  return `${tokens.toLocaleString('en-US')} tokens in ${calls}${cost ? `, $${(cost / 1_000_000).toFixed(4)}` : ''}`;
}

async function usageReport(m: IncomingMessage, settings: GuardrailSettings, d: CommandDeps): Promise<string> {
  const now = d.now();
  const user = scopesOf(m).user;
  const dayOfMonth = new Date(now).getUTCDate();
  const rows = await d.ledger.rowsOf(user, dayOfMonth, now);
  const today = rows.filter((r) => dayOf(r.at) === dayOf(now));
  const lines = ['Your usage:', `• Today: ${summarize(today)}`, `• This month: ${summarize(rows)}`];
  const states = await d.budgets.states(m, settings.budgets, now);
  if (!states.length) {
    lines.push('No budgets are set.');
  } else {
    lines.push('Budgets:');
    for (const s of states) {
      const left = Math.max(0, s.limit - s.used);
      lines.push(
        `• ${capitalize(BUDGET_WORDS[s.budget])}: ${formatUsedOf(s.budget, s.used, s.limit)} used, ` +
          `${formatBudgetAmount(s.budget, left)} left (resets in ${describeWait(s.resetsInMs)})`,
      );
    }
  }
  return lines.join('\n');
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A user id from `U123`, Slack's `<@U123>` / `<@U123|name>` or Discord's `<@123>` / `<@!123>`. */
function userFromArgument(arg: string): string {
  const m = /^<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>$/.exec(arg);
  return m ? m[1]! : arg.replace(/^@/, '');
}
