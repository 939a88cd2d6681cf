import { startSlackWorld, type SlackWorld } from '../../test/platforms/slack/harness.js';
import { startHarness, type Harness } from '../../test/platforms/discord/harness.js';
import { splitText, type FakeOpenAI, type ScriptedReply } from '../../test/fakes/openai-server.js';
import { snowflake, user, ChannelType } from '../../test/fakes/discord/model.js';
import { Tracer, type ReplyTrace } from './trace.js';
import { EveryChunk } from './baseline.js';
import { within } from './stats.js';
import type { Parley } from '../../src/app.js';

/** How the scripted model answers: time to first token, chunk spacing, answer length. */
export interface ModelScript {
  firstTokenDelayMs: number;
  chunkDelayMs: number;
  /** Chunks in the answer; each is `wordsPerChunk` words. */
  chunks: number;
  wordsPerChunk: number;
}

const WORDS = [
  'pacing',
  'keeps',
  'every',
  'reply',
  'inside',
  'the',
  'limits',
  'while',
  'text',
  'streams',
  'smoothly',
  'to',
  'readers',
  'without',
  'stale',
  'edits',
];

/** The answer for reply `id`: starts with `A<id>`, plain words only (no formatting to convert). */
export function answerFor(id: string, s: ModelScript): { text: string; chunks: string[] } {
  const words = [`A${id}`];
  for (let i = 1; i < s.chunks * s.wordsPerChunk; i++) words.push(WORDS[(i * 7 + id.length) % WORDS.length]!);
  const tokens = splitText(words.join(' '));
  const chunks: string[] = [];
  for (let i = 0; i < tokens.length; i += s.wordsPerChunk) chunks.push(tokens.slice(i, i + s.wordsPerChunk).join(''));
  return { text: chunks.join(''), chunks };
}

/** Scripts a model by question marker: `Q<id>` gets the reply registered for `id`. */
export function scriptModel(openai: FakeOpenAI, scripts: Map<string, ScriptedReply>): void {
  openai.defaultReply = (req) => {
    const last = [...(req.body.messages ?? [])].reverse().find((m: any) => m.role === 'user');
    const q = typeof last?.content === 'string' ? last.content : '';
    const id = /\bQ([a-z]+\d+)\b/.exec(q)?.[1];
    return (id && scripts.get(id)) || { text: 'no script' };
  };
}

/**
 * What every world shares: the model answers each `Q<id>` with the reply registered for it, the
 * optional baseline is installed, and each ask gets a trace expecting its exact answer.
 */
function scriptedReplies(openai: FakeOpenAI, parley: Parley, tracer: Tracer, withBaseline?: boolean) {
  const scripts = new Map<string, ScriptedReply>();
  scriptModel(openai, scripts);
  tracer.attachParley(parley);
  let baseline: EveryChunk | undefined;
  if (withBaseline) (baseline = new EveryChunk()).install(parley);
  return {
    baseline,
    expect(id: string, script: ModelScript): ReplyTrace {
      const a = answerFor(id, script);
      scripts.set(id, { chunks: a.chunks, firstTokenDelayMs: script.firstTokenDelayMs, chunkDelayMs: script.chunkDelayMs });
      return tracer.expect(id, a.text);
    },
  };
}

/** A Parley + fake world of either platform, traced, with `ask(id)` and per-reply scripting. */
export interface World {
  tracer: Tracer;
  baseline?: EveryChunk;
  /** Registers reply `id` with its answer, asks the question in `place`, returns its trace. */
  ask(id: string, script: ModelScript, place: string): ReplyTrace;
  /** Places (channels) questions can be asked in. */
  places: string[];
  rateLimited(): number;
  calls(): number;
  stop(): Promise<void>;
}

/** Askers per world, used in turn (Parley's default guardrails: 20 questions per user per minute). */
const ASKERS = 25;

const QUIET_ENV = { HISTORY_TTL_DAYS: '1', SHUTDOWN_DEADLINE_MS: '2000' };

export async function slackWorld(o: { stream: 'on' | 'refuse'; channels: number; baseline?: boolean; tracer?: Tracer }): Promise<World & { w: SlackWorld }> {
  const w = await startSlackWorld({ env: QUIET_ENV });
  const tracer = o.tracer ?? new Tracer();
  w.slack.stream.mode = o.stream;
  const places: string[] = [];
  for (let i = 0; i < o.channels; i++) {
    const id = `C0BENCH${String(i).padStart(3, '0')}`;
    w.slack.ws.channels.set(id, { id, name: `bench-${i}` });
    places.push(id);
  }
  // A pool of askers: Parley's default guardrails allow 20 questions per user per minute.
  const users = Array.from({ length: ASKERS }, (_, i) => `U0BENCH${String(i).padStart(4, '0')}`);
  for (const [i, id] of users.entries()) w.slack.ws.users.set(id, { id, name: `asker${i}`, real_name: `Asker ${i}` });
  let asked = 0;
  tracer.attachSlack(w.slack);
  const replies = scriptedReplies(w.openai, w.parley, tracer, o.baseline);
  return {
    w,
    tracer,
    baseline: replies.baseline,
    places,
    ask(id, script, channel) {
      const trace = replies.expect(id, script);
      const m = w.slack.userSays(channel, users[asked++ % users.length]!, `<@${w.slack.botUserId}> Q${id} how do I pace replies?`);
      void w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention'))).catch(() => undefined);
      return trace;
    },
    rateLimited: () => w.slack.calls.filter((c) => c.status === 429).length,
    calls: () => w.slack.calls.length,
    stop: () => within(w.stop(), 30_000, 'stopping a Slack world').catch(() => undefined),
  };
}

export async function discordWorld(o: { via: 'mention' | 'ask'; channels: number; baseline?: boolean; tracer?: Tracer }): Promise<World & { h: Harness }> {
  const places: string[] = [];
  const h = await startHarness({
    env: QUIET_ENV,
    beforeStart: (d) => {
      for (let i = 0; i < o.channels; i++) {
        const id = snowflake();
        d.channels.set(id, { id, type: ChannelType.GuildText, name: `bench-${i}`, guild_id: d.guildId });
        places.push(id);
      }
    },
  });
  const users = Array.from({ length: ASKERS }, (_, i) => user(snowflake(), `asker${i}`));
  for (const u of users) h.discord.users.set(u.id, u);
  let asked = 0;
  const tracer = o.tracer ?? new Tracer();
  tracer.attachDiscord(h.discord);
  const replies = scriptedReplies(h.openai, h.parley, tracer, o.baseline);
  if (o.via === 'ask') {
    await h.discord.waitFor(
      () => h.discord.commandList(h.discord.guildId).some((c) => c.name === 'ask') || h.discord.globalCommands.some((c) => c.name === 'ask'),
      15_000,
      'the /ask command',
    );
  }
  return {
    h,
    tracer,
    baseline: replies.baseline,
    places,
    ask(id, script, channelId) {
      const trace = replies.expect(id, script);
      const question = `Q${id} how do I pace replies?`;
      const author = users[asked++ % users.length]!;
      if (o.via === 'ask') h.discord.runCommand({ name: 'ask', options: { question }, channelId, author });
      else h.discord.userSays({ content: question, channelId, mentionBot: true, author });
      return trace;
    },
    rateLimited: () => h.discord.requests.filter((r) => r.status === 429).length,
    calls: () => h.discord.requests.length,
    stop: () => within(h.close(), 30_000, 'stopping a Discord world').catch(() => undefined),
  };
}
