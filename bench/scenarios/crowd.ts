import { discordWorld, slackWorld, type ModelScript, type World } from '../lib/worlds.js';
import { figures } from '../lib/trace.js';
import { dist, now, spread, within, type Dist } from '../lib/stats.js';
import { ChannelType } from '../../test/fakes/discord/model.js';

export interface CrowdOptions {
  platform: 'slack' | 'discord';
  replies: number;
  /** Slack: channels the replies are spread over (one workspace); Discord: always one channel. */
  channels: number;
  script: ModelScript;
  baseline: boolean;
  /** Paced: a safety bound; baseline: the backlog still queued then is dropped. */
  deadlineMs: number;
}

export interface CrowdResult {
  platform: 'slack' | 'discord';
  mode: 'paced' | 'baseline';
  replies: number;
  channels: number;
  /** Turns finished (the renderer returned from finish). */
  completed: number;
  /** Replies whose visible text ended exactly on the model's answer. */
  exact: number;
  rateLimited: number;
  platformCalls: number;
  updatesPerReply: { min: number | null; median: number | null; max: number | null };
  lagMs: Dist;
  /** Tokens that arrived, and those that became visible (lag is over the visible ones only). */
  tokens: number;
  tokensVisible: number;
  firstVisibleMs: Dist;
  /** First words as the asker sees them: the question posted → the first visible text of the answer (ms). */
  firstWordsMs?: Dist;
  /** Discord: threads the bot opened (one per mention answered in a thread). */
  threads?: number;
  finalMs: Dist;
  /** From the first question to the last exact final text. */
  lastFinalMs: number | null;
  droppedAtDeadline: number;
  wallMs: number;
}

/** Crowd: every reply asked at once and streaming together, sharing the platform's budget. */
export async function crowd(o: CrowdOptions): Promise<CrowdResult> {
  const world: World =
    o.platform === 'slack'
      ? await slackWorld({ stream: 'on', channels: o.channels, baseline: o.baseline })
      : await discordWorld({ via: 'mention', channels: 1, baseline: o.baseline });
  try {
    const tag = `c${o.platform[0]}${o.baseline ? 'b' : 'p'}`;
    let timer: NodeJS.Timeout | undefined;
    if (o.baseline) timer = setTimeout(() => world.baseline?.abort(), o.deadlineMs);
    const t0 = Date.now();
    const asked: number[] = [];
    const traces = Array.from({ length: o.replies }, (_, i) => {
      asked.push(now());
      return world.ask(`${tag}${i + 1}`, o.script, world.places[i % world.places.length]!);
    });
    await within(Promise.all(traces.map((t) => t.done)), o.deadlineMs + 30_000, `${o.platform} crowd`).catch((err) => console.error(`  ${String(err)}`));
    clearTimeout(timer);
    const wallMs = Date.now() - t0;
    const figs = traces.map((t) => figures(t));
    const finals = traces.flatMap((t) => {
      const s = t.snapshots.find((x) => x.text === t.expected);
      return s && t.snapshots[t.snapshots.length - 1]?.text === t.expected ? [s.at] : [];
    });
    return {
      platform: o.platform,
      mode: o.baseline ? 'baseline' : 'paced',
      replies: o.replies,
      channels: o.platform === 'slack' ? o.channels : 1,
      completed: traces.filter((t) => t.turn).length,
      exact: figs.filter((f) => f.exact).length,
      rateLimited: world.rateLimited(),
      platformCalls: world.calls(),
      updatesPerReply: spread(figs.flatMap((f) => (f.updates === undefined ? [] : [f.updates]))),
      lagMs: dist(figs.flatMap((f) => f.lagsMs)),
      tokens: traces.reduce((n, t) => n + t.tokens.length, 0),
      tokensVisible: figs.reduce((n, f) => n + f.lagsMs.length, 0),
      firstVisibleMs: dist(figs.flatMap((f) => (f.firstVisibleMs === undefined ? [] : [f.firstVisibleMs]))),
      firstWordsMs: dist(
        traces.flatMap((t, i) => {
          const first = t.snapshots.find((x) => x.text.trim() !== '');
          return first ? [first.at - asked[i]!] : [];
        }),
      ),
      threads:
        'h' in world
          ? [...(world as { h: { discord: { channels: Map<string, { type: number; owner_id?: string }> } } }).h.discord.channels.values()].filter(
              (c) => c.type === ChannelType.PublicThread,
            ).length
          : undefined,
      finalMs: dist(figs.flatMap((f) => (f.finalMs === undefined ? [] : [f.finalMs]))),
      lastFinalMs: finals.length ? Math.round(Math.max(...finals) - t0) : null,
      droppedAtDeadline: world.baseline?.dropped ?? 0,
      wallMs,
    };
  } finally {
    await world.stop();
  }
}
