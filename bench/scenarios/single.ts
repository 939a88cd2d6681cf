import { discordWorld, slackWorld, type ModelScript, type World } from '../lib/worlds.js';
import { figures, type ReplyTrace } from '../lib/trace.js';
import { dist, sleep, spread, within, type Dist } from '../lib/stats.js';

export type Transport = 'slack-stream' | 'slack-update' | 'discord-edit' | 'discord-ask';

export interface SingleOptions {
  replies: number;
  /** Replies asked one after another in one lane (a workspace for Slack, a channel for Discord). */
  perLane: number;
  /** Pause after each reply in a lane, so the next one starts with the platform budget rested. */
  gapMs: number;
  script: ModelScript;
  baseline: boolean;
  /** The whole scenario ends by then (a baseline backlog is dropped at this point). */
  deadlineMs: number;
}

export interface SingleResult {
  transport: Transport;
  mode: 'paced' | 'baseline';
  replies: number;
  completed: number;
  exact: number;
  firstVisibleMs: Dist;
  finalMs: Dist;
  lagMs: Dist;
  /** Tokens that arrived, and those that became visible (lag is over the visible ones only). */
  tokens: number;
  tokensVisible: number;
  updatesPerReply: { min: number | null; median: number | null; max: number | null };
  rateLimited: number;
  /** Queued requests skipped after the cap (a lower bound: a request still held by a pacer is abandoned, not counted). */
  droppedAtDeadline: number;
  wallMs: number;
}

/**
 * Single reply: replies asked one at a time per lane, lanes side by side in separate scopes
 * (Slack: one fake workspace + Parley each, since Slack's limits are per workspace; Discord:
 * one channel each), so each reply sees an idle platform budget. Measures the bot's own
 * overhead: model's first token → first visible text, last token → final text.
 */
export async function single(transport: Transport, o: SingleOptions): Promise<SingleResult> {
  const lanes = Math.ceil(o.replies / o.perLane);
  const worlds: World[] = [];
  const started = Date.now();
  const placeOf: { world: World; place: string }[] = [];
  try {
    if (transport.startsWith('slack')) {
      // One workspace per lane; 2 channels each so chat.postMessage (per channel) rests between replies.
      const made = await Promise.all(
        Array.from({ length: lanes }, () => slackWorld({ stream: transport === 'slack-stream' ? 'on' : 'refuse', channels: 2, baseline: o.baseline })),
      );
      worlds.push(...made);
      for (const w of made) placeOf.push({ world: w, place: w.places[0]! });
    } else {
      const w = await discordWorld({ via: transport === 'discord-ask' ? 'ask' : 'mention', channels: lanes, baseline: o.baseline });
      worlds.push(w);
      for (const p of w.places) placeOf.push({ world: w, place: p });
    }
    const traces: ReplyTrace[] = [];
    const deadline = started + o.deadlineMs;
    let n = 0;
    const tag = { 'slack-stream': 'ss', 'slack-update': 'su', 'discord-edit': 'de', 'discord-ask': 'da' }[transport] + (o.baseline ? 'b' : 'p');
    let timer: NodeJS.Timeout | undefined;
    if (o.baseline) timer = setTimeout(() => worlds.forEach((w) => w.baseline?.abort()), Math.max(0, o.deadlineMs - 10_000));
    const t0 = Date.now();
    await Promise.all(
      placeOf.map(async ({ world, place }, lane) => {
        const places = transport.startsWith('slack') ? world.places : [place];
        for (let k = 0; k < o.perLane; k++) {
          if (n >= o.replies || Date.now() > deadline) return;
          const id = `${tag}${++n}`;
          // Slack: alternate the lane's two channels; Discord: the lane's own channel.
          const where = places[k % places.length]!;
          const trace = world.ask(id, o.script, where);
          traces.push(trace);
          await within(trace.done, Math.max(1, deadline - Date.now()), `reply ${id} (lane ${lane})`).catch(() => undefined);
          await sleep(o.gapMs);
        }
      }),
    );
    clearTimeout(timer);
    const wallMs = Date.now() - t0;
    const figs = traces.map((t) => figures(t));
    const done = traces.filter((t) => t.turn);
    return {
      transport,
      mode: o.baseline ? 'baseline' : 'paced',
      replies: traces.length,
      completed: done.length,
      exact: figs.filter((f) => f.exact).length,
      firstVisibleMs: dist(figs.flatMap((f) => (f.firstVisibleMs === undefined ? [] : [f.firstVisibleMs]))),
      finalMs: dist(figs.flatMap((f) => (f.finalMs === undefined ? [] : [f.finalMs]))),
      lagMs: dist(figs.flatMap((f) => f.lagsMs)),
      tokens: traces.reduce((n, t) => n + t.tokens.length, 0),
      tokensVisible: figs.reduce((n, f) => n + f.lagsMs.length, 0),
      updatesPerReply: spread(figs.flatMap((f) => (f.updates === undefined ? [] : [f.updates]))),
      rateLimited: worlds.reduce((s, w) => s + w.rateLimited(), 0),
      droppedAtDeadline: worlds.reduce((s, w) => s + (w.baseline?.dropped ?? 0), 0),
      wallMs,
    };
  } finally {
    await Promise.all(worlds.map((w) => w.stop()));
  }
}
