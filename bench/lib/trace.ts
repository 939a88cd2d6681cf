import type { Parley } from '../../src/app.js';
import type { ChatEvent, ChatRequest } from '../../src/llm/client.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import type { FakeSlack } from '../../test/fakes/slack/fake-slack.js';
import type { FakeMessage as SlackMessage } from '../../test/fakes/slack/model.js';
import type { FakeDiscord, FakeMessage as DiscordMessage } from '../../test/fakes/discord/index.js';
import { now } from './stats.js';

/**
 * What the bench measures from, recorded on both sides of the bot in the same process:
 * - token arrivals: the engine's model client is wrapped, so each delta is stamped as it reaches
 *   the engine (before the renderer sees it);
 * - visible text: the fakes' own message model is wrapped (Slack `Workspace.post`/`setText`,
 *   Discord `addMessage`/`editMessage`), so each change a platform applied is stamped as it happens.
 * Questions carry `Q<id>`, answers start with `A<id>`, which ties messages and model calls to replies.
 * Nothing in src/ or the fakes is changed; the wrappers only observe and call through.
 */

export interface ReplyTrace {
  id: string;
  /** The exact text the reply must end with. */
  expected: string;
  /** Cumulative answer length after each delta, stamped on arrival at the engine. */
  tokens: { at: number; len: number }[];
  /** The reply's visible text (its messages joined) after each change the platform applied. */
  snapshots: { at: number; text: string }[];
  turn?: Pick<TurnResult, 'startedAt' | 'firstTokenAt' | 'firstVisibleAt' | 'finishedAt' | 'updates' | 'text' | 'error'>;
  done: Promise<void>;
  resolve(): void;
}

const QUESTION = /\bQ([a-z]+\d+)\b/;
const ANSWER = /\bA([a-z]+\d+)\b/;

export class Tracer {
  readonly replies = new Map<string, ReplyTrace>();
  private readonly slackOwner = new WeakMap<object, string>();
  private readonly messagesOf = new Map<string, { text: string; deleted: () => boolean }[]>();

  expect(id: string, expected: string): ReplyTrace {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const t: ReplyTrace = { id, expected, tokens: [], snapshots: [], done, resolve };
    this.replies.set(id, t);
    this.messagesOf.set(id, []);
    return t;
  }

  /** Stamps every model delta as the engine receives it, and every finished turn. */
  attachParley(parley: Parley): void {
    const llm = (parley.engine as unknown as { deps: { llm?: { stream(req: ChatRequest): AsyncGenerator<ChatEvent> } } }).deps.llm;
    if (!llm) throw new Error('bench: Parley has no model client');
    const original = llm.stream.bind(llm);
    const replies = this.replies;
    llm.stream = function (req: ChatRequest): AsyncGenerator<ChatEvent> {
      const lastUser = [...req.messages].reverse().find((m) => m.role === 'user');
      const id = QUESTION.exec(typeof lastUser?.content === 'string' ? lastUser.content : JSON.stringify(lastUser?.content ?? ''))?.[1];
      const trace = id ? replies.get(id) : undefined;
      const inner = original(req);
      return (async function* () {
        let len = 0;
        for await (const ev of inner) {
          if (ev.type === 'delta' && trace) {
            len += ev.text.length;
            trace.tokens.push({ at: now(), len });
          }
          yield ev;
        }
      })();
    };
    parley.engine.onTurn((r) => {
      const id = QUESTION.exec(r.question)?.[1];
      const trace = id ? this.replies.get(id) : undefined;
      if (!trace) return;
      trace.turn = {
        startedAt: r.startedAt,
        firstTokenAt: r.firstTokenAt,
        firstVisibleAt: r.firstVisibleAt,
        finishedAt: r.finishedAt,
        updates: r.updates,
        text: r.text,
        error: r.error,
      };
      trace.resolve();
    });
  }

  private snapshot(id: string): void {
    const t = this.replies.get(id);
    if (!t) return;
    const text = this.messagesOf
      .get(id)!
      .filter((m) => !m.deleted())
      .map((m) => m.text)
      .join('\n');
    t.snapshots.push({ at: now(), text });
  }

  private own(key: object, text: string, view: () => { text: string; deleted: () => boolean }): string | undefined {
    let id = this.slackOwner.get(key);
    if (id) return id;
    id = ANSWER.exec(text)?.[1];
    if (!id || !this.replies.has(id)) return undefined;
    this.slackOwner.set(key, id);
    this.messagesOf.get(id)!.push(view());
    return id;
  }

  attachSlack(slack: FakeSlack): void {
    const ws = slack.ws;
    const post = ws.post.bind(ws);
    const setText = ws.setText.bind(ws);
    const viewOf = (m: SlackMessage) => () => ({
      get text() {
        return m.text;
      },
      deleted: () => m.deleted,
    });
    ws.post = (channel, user, text, opts) => {
      const m = post(channel, user, text, opts);
      if (user === ws.botUserId) {
        const id = this.own(m, text, viewOf(m));
        if (id) this.snapshot(id);
      }
      return m;
    };
    ws.setText = (m, text) => {
      setText(m, text);
      if (m.user !== ws.botUserId) return;
      const id = this.own(m, text, viewOf(m));
      if (id) this.snapshot(id);
    };
  }

  attachDiscord(discord: FakeDiscord): void {
    const add = discord.addMessage.bind(discord);
    const edit = discord.editMessage.bind(discord);
    const botId = discord.botUser.id;
    const viewOf = (m: DiscordMessage) => () => ({
      get text() {
        return m.content;
      },
      deleted: () => m.deleted,
    });
    discord.addMessage = (o) => {
      const m = add(o);
      if (o.author.id === botId) {
        const id = this.own(m, m.content, viewOf(m));
        if (id) this.snapshot(id);
      }
      return m;
    };
    discord.editMessage = (m, content, components) => {
      edit(m, content, components);
      if (m.author.id !== botId || typeof content !== 'string') return;
      const id = this.own(m, m.content, viewOf(m));
      if (id) this.snapshot(id);
    };
  }
}

/** Figures of one reply, from its trace. */
export interface ReplyFigures {
  id: string;
  exact: boolean;
  /** Model's first token (at the engine) → first answer text visible on the platform. */
  firstVisibleMs?: number;
  /** Model's last token → the exact final text visible. */
  finalMs?: number;
  /** Per token: arrival → visible (the first platform state showing at least that much text). */
  lagsMs: number[];
  /** Requests the renderer sent for this reply (RenderStats.updates). */
  updates?: number;
  /** Platform changes observed (posts and edits that reached the fake). */
  changes: number;
}

export function figures(t: ReplyTrace): ReplyFigures {
  const snaps = t.snapshots;
  const last = snaps[snaps.length - 1];
  const exact = last?.text === t.expected;
  const firstTok = t.tokens[0];
  const lastTok = t.tokens[t.tokens.length - 1];
  const firstVis = snaps.find((s) => s.text.length > 0);
  const finalSnap = snaps.find((s) => s.text === t.expected);
  const lagsMs: number[] = [];
  let j = 0;
  for (const tok of t.tokens) {
    const want = t.expected.slice(0, tok.len);
    while (j < snaps.length && !(snaps[j]!.text.length >= tok.len && snaps[j]!.text.startsWith(want))) j++;
    if (j >= snaps.length) break;
    lagsMs.push(Math.max(0, snaps[j]!.at - tok.at));
  }
  return {
    id: t.id,
    exact,
    firstVisibleMs: firstTok && firstVis ? firstVis.at - firstTok.at : undefined,
    finalMs: lastTok && finalSnap ? Math.max(0, finalSnap.at - lastTok.at) : undefined,
    lagsMs,
    updates: t.turn?.updates,
    changes: snaps.length,
  };
}
