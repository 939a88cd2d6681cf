import { MessageType, type ChatInputCommandInteraction, type Message } from 'discord.js';
import type { Attachment, IncomingMessage, Trigger } from '../../kernel/types.js';
import type { ConversationLinks } from './links.js';
import { stripBotMention, threadName } from './format.js';

/**
 * Discord events → IncomingMessage, plus where the answer goes (the ReplyPlan).
 *
 * Conversation keys (workspace = guild id or `@dm`):
 * - mention in a channel: channel = the channel, thread = the mention's id. A thread the
 *   bot opens on that message gets the same id, so both reply modes share the key;
 * - in a thread: channel = the parent channel, thread = the thread id (the same key again
 *   when the bot opened the thread itself);
 * - reply to one of the bot's messages: the conversation that message belongs to (links.ts);
 * - DM: channel = thread = the DM channel (one conversation per DM);
 * - `/ask`: in a thread as above, elsewhere thread = the interaction id.
 */
export const DM_WORKSPACE = '@dm';

/** DISCORD_REPLY_MODE: `auto` replies, or opens a thread when the channel is busy answering; `thread` always opens one. */
export type ReplyMode = 'auto' | 'reply' | 'thread';

/** Where and how the answer to one message is written. */
export type ReplyPlan =
  | {
      kind: 'channel';
      channelId: string;
      replyTo?: string;
      /** Open a thread on the question and answer there (`busyOnly`: only when the channel is busy answering, else reply). */
      startThread?: { guildId: string; channelId: string; messageId: string; name: string; busyOnly?: boolean };
      inThread: boolean;
    }
  | { kind: 'interaction'; interactionId: string; token: string; channelId: string; createdAt: number };

export interface Routed {
  message: IncomingMessage;
  plan: ReplyPlan;
}

/** Plain facts read off a discord.js Message, so routing does not depend on SDK classes. */
export interface MessageFacts {
  id: string;
  channelId: string;
  guildId?: string;
  isDm: boolean;
  /** The parent channel when the message is in a thread. */
  threadParentId?: string;
  author: { id: string; name: string; bot: boolean; roles: string[] };
  content: string;
  mentionsBot: boolean;
  replyToId?: string;
  /** The replied-to message is the bot's (from the reply ping or the cached message). */
  replyToBot: boolean;
  /** Joins, pins, boosts…: never questions. */
  system: boolean;
  attachments: Attachment[];
  createdAt: number;
}

const ANSWERABLE_TYPES = new Set<number>([MessageType.Default, MessageType.Reply]);

export function factsOf(m: Message, botId: string): MessageFacts {
  const channel = m.channel;
  const isThread = channel.isThread();
  return {
    id: m.id,
    channelId: m.channelId,
    guildId: m.guildId ?? undefined,
    isDm: !m.guildId,
    threadParentId: isThread ? (channel.parentId ?? undefined) : undefined,
    author: {
      id: m.author.id,
      name: m.member?.displayName ?? m.author.globalName ?? m.author.username,
      bot: m.author.bot || m.webhookId !== null,
      roles: m.member ? [...m.member.roles.cache.keys()].filter((r) => r !== m.guildId) : [],
    },
    content: m.content,
    // A direct mention only: not @everyone, not a role, not the replied-to author ping.
    mentionsBot: m.mentions.users.has(botId) && new RegExp(`<@!?${botId}>`).test(m.content),
    replyToId: m.reference?.messageId ?? undefined,
    replyToBot:
      m.reference?.messageId !== undefined &&
      (m.mentions.repliedUser?.id === botId || m.channel.messages.cache.get(m.reference.messageId)?.author.id === botId),
    system: m.system || !ANSWERABLE_TYPES.has(m.type),
    attachments: [...m.attachments.values()].map((a) => ({
      name: a.name,
      contentType: a.contentType ?? 'application/octet-stream',
      sizeBytes: a.size,
      url: a.url,
      // Discord's attachment URLs are signed; they need no bot token.
      load: async () => Buffer.from(await (await fetch(a.url)).arrayBuffer()),
    })),
    createdAt: m.createdTimestamp,
  };
}

/**
 * Decides whether a message is for the bot and builds it. Undefined: not for the bot (another
 * bot, the bot itself, a system message, a channel message without a mention…).
 */
export async function routeMessage(f: MessageFacts, ctx: { botId: string; replyMode: ReplyMode; links: ConversationLinks }): Promise<Routed | undefined> {
  if (f.author.bot || f.author.id === ctx.botId || f.system) return undefined;
  const text = stripBotMention(f.content, ctx.botId);
  // Without MESSAGE_CONTENT, follow-ups arrive empty: nothing to answer.
  if (!text && f.attachments.length === 0) return undefined;
  const base = {
    platform: 'discord' as const,
    workspace: f.guildId ?? DM_WORKSPACE,
    id: f.id,
    user: { id: f.author.id, name: f.author.name, roles: f.author.roles },
    text,
    attachments: f.attachments,
    receivedAt: f.createdAt,
  };
  const build = (channel: string, thread: string, trigger: Trigger): IncomingMessage => ({ ...base, channel, thread, trigger });

  if (f.isDm) {
    return { message: build(f.channelId, f.channelId, 'direct_message'), plan: { kind: 'channel', channelId: f.channelId, inThread: false } };
  }
  // A reply to one of the bot's messages continues that message's conversation.
  if (f.replyToId) {
    const linked = await ctx.links.conversationOf(f.replyToId);
    if (linked)
      return {
        message: build(linked.channel, linked.thread, f.mentionsBot ? 'mention' : 'thread_follow_up'),
        plan: { kind: 'channel', channelId: f.channelId, replyTo: f.id, inThread: f.threadParentId !== undefined },
      };
    // A bot message whose conversation is forgotten (expired link): start one rooted there.
    if (f.replyToBot && f.threadParentId === undefined)
      return {
        message: build(f.channelId, f.replyToId, 'thread_follow_up'),
        plan: { kind: 'channel', channelId: f.channelId, replyTo: f.id, inThread: false },
      };
  }
  if (f.threadParentId !== undefined) {
    if (!f.mentionsBot && !(await ctx.links.isBotThread(f.channelId))) return undefined;
    return {
      message: build(f.threadParentId, f.channelId, f.mentionsBot ? 'mention' : 'thread_follow_up'),
      plan: { kind: 'channel', channelId: f.channelId, inThread: true },
    };
  }
  if (!f.mentionsBot) return undefined;
  // The thread takes the mention's id, so a reply and a thread share one conversation key.
  const thread = { guildId: f.guildId ?? DM_WORKSPACE, channelId: f.channelId, messageId: f.id, name: threadName(text) };
  const plan: ReplyPlan =
    ctx.replyMode === 'thread'
      ? { kind: 'channel', channelId: f.channelId, startThread: thread, inThread: false }
      : ctx.replyMode === 'auto'
        ? { kind: 'channel', channelId: f.channelId, replyTo: f.id, startThread: { ...thread, busyOnly: true }, inThread: false }
        : { kind: 'channel', channelId: f.channelId, replyTo: f.id, inThread: false };
  return { message: build(f.channelId, f.id, 'mention'), plan };
}

/** `/ask question:<text>` → IncomingMessage (the interaction is already deferred). */
export function routeCommand(i: ChatInputCommandInteraction, optionName: string): Routed {
  const channel = i.channel;
  const inThread = channel?.isThread() === true;
  const parentId = inThread ? (channel.parentId ?? i.channelId) : i.channelId;
  const member = i.member && 'roles' in i.member && !Array.isArray(i.member.roles) ? i.member.roles.cache : undefined;
  const message: IncomingMessage = {
    platform: 'discord',
    workspace: i.guildId ?? DM_WORKSPACE,
    channel: parentId,
    thread: inThread ? i.channelId : i.id,
    id: i.id,
    user: {
      id: i.user.id,
      name: (i.member && 'displayName' in i.member ? i.member.displayName : undefined) ?? i.user.globalName ?? i.user.username,
      roles: member ? [...member.keys()].filter((r) => r !== i.guildId) : [],
    },
    text: (i.options.getString(optionName) ?? '').trim(),
    attachments: [],
    trigger: 'slash_command',
    command: i.commandName,
    receivedAt: i.createdTimestamp,
    // The reply's visibility is fixed when it is deferred; Parley answers /ask in public.
    ephemeral: false,
  };
  return { message, plan: { kind: 'interaction', interactionId: i.id, token: i.token, channelId: i.channelId, createdAt: i.createdTimestamp } };
}
