import type { Attachment, IncomingMessage, Trigger } from '../../kernel/types.js';
import { slackToReadable, type NameLookups } from './format.js';

/**
 * Slack events → IncomingMessage, and which events are questions at all. Pure decisions here;
 * the adapter supplies what needs I/O (is this thread one the bot answers, name lookups).
 */

/** Message subtypes that are still a person writing something new. Edits, deletes, joins… are not. */
const QUESTION_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

export interface SlackMessageEvent {
  type: 'message' | 'app_mention';
  subtype?: string;
  channel: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts: string;
  thread_ts?: string;
  team?: string;
  files?: { name?: string; title?: string; mimetype?: string; size?: number; url_private?: string }[];
}

export interface BotIdentity {
  userId: string;
  botId?: string;
}

export interface EventPolicy {
  /** Answer messages written by other bots (never the bot's own). */
  allowBots: boolean;
}

/** Why an event is not a question, for debug logs and tests; undefined when it is one. */
export function skipReason(e: SlackMessageEvent, bot: BotIdentity, policy: EventPolicy): string | undefined {
  if (e.user === bot.userId || (bot.botId && e.bot_id === bot.botId)) return 'own_message';
  if (!QUESTION_SUBTYPES.has(e.subtype) && e.subtype !== 'bot_message') return `subtype_${e.subtype}`;
  if ((e.bot_id || e.subtype === 'bot_message') && !policy.allowBots) return 'other_bot';
  if (!e.user && !e.bot_id) return 'no_author';
  return undefined;
}

export function isDirectMessage(e: SlackMessageEvent): boolean {
  return e.channel_type === 'im' || e.channel.startsWith('D');
}

export function mentionsBot(e: SlackMessageEvent, bot: BotIdentity): boolean {
  return (e.text ?? '').includes(`<@${bot.userId}`);
}

/**
 * Which trigger a message event is, given whether its thread is one the bot answers:
 * - `app_mention` in a channel → mention (the answer goes in the message's thread);
 * - `message` in a DM → direct_message;
 * - `message` in a channel thread the bot answers, without a mention (the mention has its own event) → thread_follow_up.
 */
export function triggerOf(e: SlackMessageEvent, bot: BotIdentity, threadIsActive: boolean): Trigger | undefined {
  if (e.type === 'app_mention') return isDirectMessage(e) ? undefined : 'mention';
  if (isDirectMessage(e)) return 'direct_message';
  if (e.thread_ts && e.thread_ts !== e.ts && threadIsActive && !mentionsBot(e, bot)) return 'thread_follow_up';
  return undefined;
}

export function threadOf(e: Pick<SlackMessageEvent, 'ts' | 'thread_ts'>): string {
  return e.thread_ts ?? e.ts;
}

export function slackTsToMs(ts: string): number {
  return Math.round(Number.parseFloat(ts) * 1000);
}

export async function toIncomingMessage(
  e: SlackMessageEvent,
  o: { team: string; trigger: Trigger; bot: BotIdentity; lookups: NameLookups; botToken: string; userName?: string },
): Promise<IncomingMessage> {
  const author = e.user ?? e.bot_id ?? 'unknown';
  return {
    platform: 'slack',
    workspace: o.team,
    channel: e.channel,
    thread: threadOf(e),
    id: e.ts,
    user: { id: author, name: o.userName },
    text: await slackToReadable(e.text ?? '', o.lookups, o.bot.userId),
    attachments: (e.files ?? []).map((f) => toAttachment(f, o.botToken)),
    trigger: o.trigger,
    receivedAt: slackTsToMs(e.ts),
  };
}

function toAttachment(f: NonNullable<SlackMessageEvent['files']>[number], botToken: string): Attachment {
  const url = f.url_private;
  return {
    name: f.name ?? f.title ?? 'file',
    contentType: f.mimetype ?? 'application/octet-stream',
    sizeBytes: f.size ?? 0,
    url,
    load: url
      ? async () => {
          // Private file URLs need the bot token.
          const res = await fetch(url, { headers: { authorization: `Bearer ${botToken}` } });
          if (!res.ok) throw new Error(`slack file download failed: HTTP ${res.status}`);
          return Buffer.from(await res.arrayBuffer());
        }
      : undefined,
  };
}

/** `/ask private …` or `/ask -p …` asks for a private answer. */
const PRIVATE_PREFIX = /^\s*(?:private|-p|--private)(?:\s+|$)/i;

export function parseAskText(text: string, defaultPrivate: boolean): { question: string; private: boolean } {
  const m = PRIVATE_PREFIX.exec(text);
  if (m) return { question: text.slice(m[0].length).trim(), private: true };
  return { question: text.trim(), private: defaultPrivate };
}
