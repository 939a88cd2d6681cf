/**
 * The fake Discord's data model: users, channels, messages with their edit history,
 * interactions and application commands, in the JSON shapes the v10 API uses.
 */

const DISCORD_EPOCH_MS = 1_420_070_400_000n; // snowflakes count milliseconds from 2015-01-01
let increment = 0n;
/**
 * A real-shaped snowflake: the creation time in the top bits (discord.js reads
 * `createdTimestamp` from it, and the adapter times interaction tokens with it), 19 digits.
 */
export function snowflake(): string {
  increment = (increment + 1n) & 0x3fffffn;
  return (((BigInt(Date.now()) - DISCORD_EPOCH_MS) << 22n) | increment).toString();
}

export const MESSAGE_MAX_CHARS = 2000; // Discord message content limit
export const INVALID_FORM_BODY = 50035; // Discord error code for a rejected request body
export const INVALID_WEBHOOK_TOKEN = 50027; // Discord error code once an interaction token expired
export const UNKNOWN_MESSAGE = 10008;
export const INTERACTION_TOKEN_TTL_MS = 15 * 60_000; // interaction tokens work for 15 minutes

export const ChannelType = { GuildText: 0, DM: 1, PublicThread: 11, GuildForum: 15 } as const;

export interface FakeUser {
  id: string;
  username: string;
  global_name?: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
}

export interface FakeChannel {
  id: string;
  type: number;
  name?: string;
  guild_id?: string;
  parent_id?: string;
  owner_id?: string;
  /** For DMs: the other user. */
  recipients?: FakeUser[];
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: FakeUser;
  content: string;
  /** Every content the message had, oldest first (the first is the content it was created with). */
  history: string[];
  /** `allowed_mentions` of the request that created the message. */
  allowed_mentions?: unknown;
  message_reference?: { message_id: string; channel_id: string; guild_id?: string };
  mentions: FakeUser[];
  mention_roles: string[];
  /** Roles this message actually pings (role mentions in the content that `allowed_mentions` lets through). */
  pinged_roles: string[];
  /** Message components (button rows) as last sent. */
  components?: any[];
  mention_everyone: boolean;
  flags: number;
  /** Set when the message is an interaction response or follow-up. */
  interaction_token?: string;
  deleted: boolean;
  /** A thread was started on this message (a message holds one thread). */
  thread_created?: boolean;
  created_at: number;
  edited_at?: number;
}

export interface FakeInteraction {
  id: string;
  token: string;
  channel_id: string;
  guild_id?: string;
  user: FakeUser;
  created_at: number;
  /** When the first callback arrived (ms since epoch) and its type (5 = deferred). */
  callback?: { type: number; at: number; flags: number };
  original_message_id?: string;
  followup_ids: string[];
  /** The modal the bot opened in answer (callback type 9). */
  modal?: { custom_id: string; title: string; components: any[] };
}

export interface FakeCommand {
  id: string;
  application_id: string;
  guild_id?: string;
  name: string;
  description: string;
  type: number;
  options?: unknown[];
  version: string;
  [key: string]: unknown;
}

export function user(id: string, username: string, bot = false): FakeUser {
  return { id, username, global_name: username, discriminator: '0', avatar: null, ...(bot ? { bot: true } : {}) };
}

/** The message object as the REST API and MESSAGE_CREATE carry it. */
export function messageJson(m: FakeMessage, referenced?: FakeMessage): Record<string, unknown> {
  return {
    id: m.id,
    channel_id: m.channel_id,
    ...(m.guild_id ? { guild_id: m.guild_id } : {}),
    author: m.author,
    content: m.content,
    timestamp: new Date(m.created_at).toISOString(),
    edited_timestamp: m.edited_at ? new Date(m.edited_at).toISOString() : null,
    tts: false,
    mention_everyone: m.mention_everyone,
    mentions: m.mentions,
    mention_roles: m.mention_roles,
    components: m.components ?? [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: m.message_reference ? 19 : 0,
    flags: m.flags,
    ...(m.message_reference ? { message_reference: { type: 0, ...m.message_reference } } : {}),
    ...(referenced ? { referenced_message: messageJson(referenced) } : {}),
  };
}

/** `<@id>` / `<@!id>` mentions in `content` of users the fake knows. */
export function mentionedUsers(content: string, users: Map<string, FakeUser>): FakeUser[] {
  const out: FakeUser[] = [];
  for (const m of content.matchAll(/<@!?(\d{17,20})>/g)) {
    const u = users.get(m[1]!);
    if (u && !out.includes(u)) out.push(u);
  }
  return out;
}

/** Role ids mentioned as `<@&id>` in `content`. */
export function roleMentions(content: string): string[] {
  return [...new Set([...content.matchAll(/<@&(\d{17,20})>/g)].map((m) => m[1]!))];
}

/** Roles Discord would ping: mentioned in the content and allowed by `allowed_mentions` (all, when it is absent). */
export function pingedRoles(content: string, allowed: any): string[] {
  const mentioned = roleMentions(content);
  if (!allowed) return mentioned;
  if (Array.isArray(allowed.parse) && allowed.parse.includes('roles')) return mentioned;
  const listed: string[] = Array.isArray(allowed.roles) ? allowed.roles : [];
  return mentioned.filter((r) => listed.includes(r));
}
