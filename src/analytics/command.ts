import type { TurnContext } from '../engine/pipeline.js';
import type { ParleyCommand } from '../engine/feature.js';
import { buildReport, formatSummary, parseSince } from './report.js';
import type { SupportAnalytics } from './support-analytics.js';

/**
 * `/parley stats [7d|30d|2026-11-01] [profile]`: the support figures, for admins only, and
 * only where nobody else can read them (the ephemeral `/parley` reply, a DM, the console, or a
 * private note).
 */
export const STATS_TEXTS = {
  adminsOnly: 'Only Parley administrators can see support stats.',
  notPrivate: 'Support stats are only shown privately: use `/parley stats` (only you see the answer) or ask me in a direct message.',
};

export function statsCommand(o: { analytics: SupportAnalytics; isAdmin: (ctx: TurnContext) => boolean; now?: () => number }): ParleyCommand {
  return {
    name: 'stats',
    help: '`/parley stats [7d]`: questions, answer sources, handoffs, 👍 ratio, latency and cost (admins)',
    run: async (ctx, cmdArgs) => {
      if (!o.isAdmin(ctx)) {
        ctx.answer = { text: STATS_TEXTS.adminsOnly, source: 'command' };
        return;
      }
      const now = o.now?.() ?? Date.now();
      let since = now - 7 * 86_400_000;
      let profile: string | undefined;
      const args = cmdArgs.filter((a) => a !== '--since');
      try {
        for (const a of args) {
          if (/^\d/.test(a)) since = parseSince(a, now);
          else profile = a;
        }
      } catch (err) {
        ctx.answer = { text: err instanceof Error ? err.message : String(err), source: 'command' };
        return;
      }
      const text = formatSummary(await buildReport(o.analytics, { since, until: now, profile }));
      const m = ctx.message;
      const isPrivate = m.ephemeral === true || m.trigger === 'direct_message' || m.platform === 'console';
      if (isPrivate) {
        ctx.answer = { text, source: 'command' };
        return;
      }
      if (ctx.surface.notify) {
        await ctx.surface.notify(text);
        ctx.answer = { text: '', source: 'silent', silent: true };
        return;
      }
      ctx.answer = { text: STATS_TEXTS.notPrivate, source: 'command' };
    },
  };
}
