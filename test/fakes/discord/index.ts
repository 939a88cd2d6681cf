import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { FakeGateway, MESSAGE_CONTENT_INTENT } from './gateway.js';
import { handleRest, type RecordedRestRequest } from './rest.js';
import { RouteLimiter } from './limits.js';
import {
  ChannelType,
  INTERACTION_TOKEN_TTL_MS,
  mentionedUsers,
  messageJson,
  pingedRoles,
  roleMentions,
  snowflake,
  user,
  type FakeChannel,
  type FakeCommand,
  type FakeInteraction,
  type FakeMessage,
  type FakeUser,
} from './model.js';

export { MESSAGE_CONTENT_INTENT } from './gateway.js';
export type { FakeMessage, FakeInteraction, FakeUser, FakeChannel } from './model.js';
export type { RecordedRestRequest } from './rest.js';

const ALL_INTENTS = (1 << 26) - 1;

/**
 * A fake Discord: a real HTTP REST API and a real WebSocket gateway on one 127.0.0.1 port,
 * which the real discord.js client talks to (`rest: { api: fake.apiUrl }`). Tests push user
 * messages and slash commands through the gateway and read what the bot did from the model.
 */
export class FakeDiscord {
  readonly token = 'fake-discord-bot-token.abcdefghijklmnop';
  readonly applicationId = snowflake();
  readonly botUser: FakeUser = user(this.applicationId, 'Parley', true);
  readonly defaultUser: FakeUser = user(snowflake(), 'alice');
  readonly otherBot: FakeUser = user(snowflake(), 'OtherBot', true);
  readonly guildId = snowflake();
  readonly channelId = snowflake();
  readonly dmChannelId = snowflake();
  readonly users = new Map<string, FakeUser>();
  readonly channels = new Map<string, FakeChannel>();
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly globalCommands: FakeCommand[] = [];
  readonly guildCommands = new Map<string, FakeCommand[]>();
  readonly requests: RecordedRestRequest[] = [];
  /** `allowed_mentions` of every request that carried one, in order. */
  readonly allowedMentions: { path: string; allowed_mentions: unknown }[] = [];
  readonly typing: { channelId: string; at: number }[] = [];
  /** Intents the Developer Portal allows (clear MESSAGE_CONTENT_INTENT to refuse it with 4014). */
  grantedIntents = ALL_INTENTS;
  /** Discord's per-route limits (message create/edit per channel, thread creation per guild); `routeLimits.enabled = false` turns them off. */
  readonly routeLimits = new RouteLimiter();
  /** Whether the bot may create threads (false: 403 Missing Permissions, 50013). */
  allowThreads = true;
  /** How long after creation interactions accept their first callback (Discord: 3 s). */
  interactionAckWindowMs = 3_000;
  /** How long interaction tokens work (Discord: 15 minutes). */
  interactionTokenTtlMs = INTERACTION_TOKEN_TTL_MS;
  readonly gateway: FakeGateway;
  private readonly events = new EventEmitter();
  private readonly rateLimits = new Map<string, { remaining: number; retryAfterMs: number; global: boolean }>();
  apiUrl = '';
  gatewayUrl = '';

  /** The environment that points Parley's Discord adapter at this fake, in its guild. */
  env(): { DISCORD_TOKEN: string; DISCORD_API_URL: string; DISCORD_GUILD_ID: string } {
    return { DISCORD_TOKEN: this.token, DISCORD_API_URL: this.apiUrl, DISCORD_GUILD_ID: this.guildId };
  }

  private constructor(private readonly server: Server) {
    for (const u of [this.botUser, this.defaultUser, this.otherBot]) this.users.set(u.id, u);
    this.channels.set(this.channelId, { id: this.channelId, type: ChannelType.GuildText, name: 'general', guild_id: this.guildId });
    this.channels.set(this.dmChannelId, { id: this.dmChannelId, type: ChannelType.DM, recipients: [this.defaultUser] });
    const gateway = new FakeGateway(this);
    this.gateway = gateway;
    this.events.setMaxListeners(100);
    server.on('request', (req, res) => void handleRest(this, req, res));
    server.on('upgrade', (req, socket, head) => {
      if ((req.url ?? '').startsWith('/gateway')) gateway.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
  }

  static async start(): Promise<FakeDiscord> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const fake = new FakeDiscord(server);
    const { port } = server.address() as AddressInfo;
    fake.apiUrl = `http://127.0.0.1:${port}/api`;
    fake.gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
    return fake;
  }

  async close(): Promise<void> {
    this.gateway.close();
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  // --- gateway payloads ---

  readyPayload(): Record<string, unknown> {
    return { user: this.botUser, guilds: [{ id: this.guildId, unavailable: true }], private_channels: [], application: { id: this.applicationId, flags: 0 } };
  }

  guildPayloads(): Record<string, unknown>[] {
    const channels = [...this.channels.values()].filter(
      (c) => c.guild_id === this.guildId && (c.type === ChannelType.GuildText || c.type === ChannelType.GuildForum),
    );
    const threads = [...this.channels.values()].filter((c) => c.guild_id === this.guildId && c.type === ChannelType.PublicThread);
    return [
      {
        id: this.guildId,
        name: 'Test Guild',
        icon: null,
        owner_id: this.defaultUser.id,
        unavailable: false,
        member_count: 3,
        large: false,
        features: [],
        emojis: [],
        stickers: [],
        members: [],
        presences: [],
        voice_states: [],
        stage_instances: [],
        guild_scheduled_events: [],
        roles: [
          { id: this.guildId, name: '@everyone', permissions: '3072', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 },
        ],
        channels: channels.map((c) => ({ ...c, position: 0, permission_overwrites: [] })),
        threads: threads.map((t) => ({ ...t, thread_metadata: { archived: false, auto_archive_duration: 1440, locked: false } })),
      },
    ];
  }

  // --- switches ---

  /**
   * The next `times` requests to channel `channelId` answer 429 with `retry_after`; `global`: as
   * the bot's global limit answers (X-RateLimit-Global, scope `global`, `"global": true`).
   */
  rateLimitChannel(channelId: string, times: number, retryAfterMs: number, o: { global?: boolean } = {}): void {
    this.rateLimits.set(channelId, { remaining: times, retryAfterMs, global: o.global === true });
  }

  /** Used by the REST routes: the retry-after to answer with, when the channel is limited. */
  takeRateLimit(channelId: string): { retryAfterMs: number; global: boolean } | undefined {
    const rl = this.rateLimits.get(channelId);
    if (!rl || rl.remaining <= 0) return undefined;
    rl.remaining--;
    return { retryAfterMs: rl.retryAfterMs, global: rl.global };
  }

  /** Expires every interaction token issued so far (as 15 minutes passing would). */
  expireInteractionTokens(): void {
    for (const it of this.interactions.values()) it.created_at = Date.now() - this.interactionTokenTtlMs - 1;
  }

  tokenExpired(it: FakeInteraction): boolean {
    return Date.now() - it.created_at > this.interactionTokenTtlMs;
  }

  // --- model ---

  commandList(guildId: string | undefined): FakeCommand[] {
    if (!guildId) return this.globalCommands;
    let list = this.guildCommands.get(guildId);
    if (!list) this.guildCommands.set(guildId, (list = []));
    return list;
  }

  addMessage(o: {
    channelId: string;
    author: FakeUser;
    content: string;
    allowedMentions?: unknown;
    replyTo?: string;
    flags?: number;
    interactionToken?: string;
    components?: any[];
  }): FakeMessage {
    const channel = this.channels.get(o.channelId);
    const replied = o.replyTo ? this.messages.get(o.replyTo) : undefined;
    const m: FakeMessage = {
      id: snowflake(),
      channel_id: o.channelId,
      guild_id: channel?.guild_id,
      author: o.author,
      content: o.content,
      history: [o.content],
      allowed_mentions: o.allowedMentions,
      message_reference: replied ? { message_id: replied.id, channel_id: replied.channel_id, guild_id: replied.guild_id } : undefined,
      mentions: mentionedUsers(o.content, this.users),
      mention_roles: roleMentions(o.content),
      pinged_roles: pingedRoles(o.content, o.allowedMentions),
      components: o.components,
      mention_everyone: false,
      flags: o.flags ?? 0,
      interaction_token: o.interactionToken,
      deleted: false,
      created_at: Date.now(),
    };
    this.messages.set(m.id, m);
    // Discord echoes the bot's own messages on the gateway too.
    if (o.author.id === this.botUser.id && this.gateway.connected && !o.interactionToken) this.dispatchMessage(m);
    this.events.emit('change');
    return m;
  }

  editMessage(m: FakeMessage, content: unknown, components?: any[]): void {
    if (components !== undefined) m.components = components;
    if (typeof content === 'string') {
      m.content = content;
      m.history.push(content);
      m.mentions = mentionedUsers(content, this.users);
    }
    m.edited_at = Date.now();
    this.events.emit('change');
  }

  addThread(o: { id: string; parentId: string; name: string; ownerId?: string }): FakeChannel {
    const thread: FakeChannel = {
      id: o.id,
      type: ChannelType.PublicThread,
      name: o.name,
      guild_id: this.guildId,
      parent_id: o.parentId,
      owner_id: o.ownerId ?? this.botUser.id,
    };
    this.channels.set(thread.id, thread);
    if (this.gateway.connected)
      this.gateway.dispatch('THREAD_CREATE', {
        ...thread,
        newly_created: true,
        member_count: 1,
        message_count: 0,
        thread_metadata: { archived: false, auto_archive_duration: 1440, locked: false },
      });
    return thread;
  }

  // --- driving the bot ---

  /**
   * A user opens a post in forum channel `forumId`: a thread in the forum whose starter message
   * (the same id as the thread) is `content`. Returns the thread and its starter message.
   */
  forumPost(o: { forumId: string; title: string; content: string; author?: FakeUser; mentionBot?: boolean }): { thread: FakeChannel; message: FakeMessage } {
    const author = o.author ?? this.defaultUser;
    const id = snowflake();
    const thread = this.addThread({ id, parentId: o.forumId, name: o.title, ownerId: author.id });
    const content = o.mentionBot ? `<@${this.botUser.id}> ${o.content}` : o.content;
    const m: FakeMessage = {
      id,
      channel_id: id,
      guild_id: this.guildId,
      author,
      content,
      history: [content],
      mentions: mentionedUsers(content, this.users),
      mention_roles: [],
      pinged_roles: [],
      mention_everyone: false,
      flags: 0,
      deleted: false,
      created_at: Date.now(),
    };
    this.messages.set(id, m);
    this.dispatchMessage(m);
    return { thread, message: m };
  }

  /**
   * A user (default: alice) writes in a channel. `mentionBot` prefixes `<@bot>`; `replyTo`
   * makes it a reply (which mentions the replied author, as Discord's default reply does).
   */
  userSays(o: { content: string; channelId?: string; author?: FakeUser; mentionBot?: boolean; replyTo?: string }): FakeMessage {
    const channelId = o.channelId ?? this.channelId;
    const content = o.mentionBot ? `<@${this.botUser.id}> ${o.content}` : o.content;
    const m = this.addMessage({ channelId, author: o.author ?? this.defaultUser, content, replyTo: o.replyTo });
    const replied = o.replyTo ? this.messages.get(o.replyTo) : undefined;
    if (replied && !m.mentions.some((u) => u.id === replied.author.id)) m.mentions.push(replied.author);
    this.dispatchMessage(m);
    return m;
  }

  private dispatchMessage(m: FakeMessage): void {
    const channel = this.channels.get(m.channel_id);
    const isDm = channel?.type === ChannelType.DM;
    const payload: Record<string, unknown> = messageJson(m, m.message_reference ? this.messages.get(m.message_reference.message_id) : undefined);
    if (isDm) payload.channel_type = ChannelType.DM;
    if (m.guild_id) payload.member = { roles: [], joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 };
    // Without MESSAGE_CONTENT, Discord blanks content except in DMs, mentions of the bot and the bot's own messages.
    const intents = this.gateway.intents ?? 0;
    const visible = isDm || m.author.id === this.botUser.id || m.mentions.some((u) => u.id === this.botUser.id);
    if (!(intents & MESSAGE_CONTENT_INTENT) && !visible) payload.content = '';
    this.gateway.dispatch('MESSAGE_CREATE', payload);
  }

  /** A user runs a slash command; returns the interaction (its token is what the bot answers with). */
  runCommand(o: { name: string; options: Record<string, string>; channelId?: string; author?: FakeUser }): FakeInteraction {
    const channelId = o.channelId ?? this.channelId;
    const channel = this.channels.get(channelId)!;
    const author = o.author ?? this.defaultUser;
    const cmd = [...this.commandList(this.guildId), ...this.globalCommands].find((c) => c.name === o.name);
    const it: FakeInteraction = {
      id: snowflake(),
      token: `itoken-${snowflake()}`,
      channel_id: channelId,
      guild_id: channel.guild_id,
      user: author,
      created_at: Date.now(),
      followup_ids: [],
    };
    this.interactions.set(it.id, it);
    this.gateway.dispatch('INTERACTION_CREATE', {
      id: it.id,
      application_id: this.applicationId,
      type: 2,
      token: it.token,
      version: 1,
      data: { id: cmd?.id ?? snowflake(), name: o.name, type: 1, options: Object.entries(o.options).map(([name, value]) => ({ name, type: 3, value })) },
      channel_id: channelId,
      channel: { ...channel },
      ...(channel.guild_id
        ? {
            guild_id: channel.guild_id,
            member: { user: author, roles: [], permissions: '2248473465835073', joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 },
          }
        : { user: author }),
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guildId },
      context: 0,
    });
    return it;
  }

  /** A user clicks a button (`customId`) on `message`; returns the interaction (the bot must acknowledge it). */
  clickButton(o: { message: FakeMessage; customId: string; author?: FakeUser }): FakeInteraction {
    const channel = this.channels.get(o.message.channel_id)!;
    const author = o.author ?? this.defaultUser;
    const it: FakeInteraction = {
      id: snowflake(),
      token: `itoken-${snowflake()}`,
      channel_id: channel.id,
      guild_id: channel.guild_id,
      user: author,
      created_at: Date.now(),
      followup_ids: [],
    };
    this.interactions.set(it.id, it);
    this.gateway.dispatch('INTERACTION_CREATE', {
      id: it.id,
      application_id: this.applicationId,
      type: 3,
      token: it.token,
      version: 1,
      data: { custom_id: o.customId, component_type: 2 },
      message: messageJson(o.message),
      channel_id: channel.id,
      channel: { ...channel },
      ...this.interactionAuthor(channel, author),
      app_permissions: '2248473465835073',
      locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guildId },
      context: 0,
    });
    return it;
  }

  /** A user submits the modal the bot opened in answer to `opener`, with text input values by custom id. */
  submitModal(o: { opener: FakeInteraction; values: Record<string, string>; author?: FakeUser }): FakeInteraction {
    const modal = o.opener.modal;
    if (!modal) throw new Error('the bot did not open a modal for this interaction');
    const channel = this.channels.get(o.opener.channel_id)!;
    const author = o.author ?? o.opener.user;
    const it: FakeInteraction = {
      id: snowflake(),
      token: `itoken-${snowflake()}`,
      channel_id: channel.id,
      guild_id: channel.guild_id,
      user: author,
      created_at: Date.now(),
      followup_ids: [],
    };
    this.interactions.set(it.id, it);
    this.gateway.dispatch('INTERACTION_CREATE', {
      id: it.id,
      application_id: this.applicationId,
      type: 5,
      token: it.token,
      version: 1,
      data: {
        custom_id: modal.custom_id,
        components: Object.entries(o.values).map(([custom_id, value]) => ({ type: 1, components: [{ type: 4, custom_id, value }] })),
      },
      channel_id: channel.id,
      channel: { ...channel },
      ...this.interactionAuthor(channel, author),
      app_permissions: '2248473465835073',
      locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guildId },
      context: 0,
    });
    return it;
  }

  /** A user adds an emoji reaction (e.g. 👍) to a message. */
  react(o: { message: FakeMessage; emoji: string; author?: FakeUser }): void {
    const author = o.author ?? this.defaultUser;
    this.gateway.dispatch('MESSAGE_REACTION_ADD', {
      user_id: author.id,
      channel_id: o.message.channel_id,
      message_id: o.message.id,
      ...(o.message.guild_id
        ? { guild_id: o.message.guild_id, member: { user: author, roles: [], joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 } }
        : {}),
      emoji: { id: null, name: o.emoji },
      burst: false,
      type: 0,
      message_author_id: o.message.author.id,
    });
  }

  private interactionAuthor(channel: FakeChannel, author: FakeUser): Record<string, unknown> {
    return channel.guild_id
      ? {
          guild_id: channel.guild_id,
          member: { user: author, roles: [], permissions: '2248473465835073', joined_at: new Date(0).toISOString(), deaf: false, mute: false, flags: 0 },
        }
      : { user: author };
  }

  // --- reading what happened ---

  /** Messages the bot wrote in `channelId` (not deleted), oldest first. */
  botMessages(channelId = this.channelId): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel_id === channelId && m.author.id === this.botUser.id && !m.deleted);
  }

  emitRequest(rec: RecordedRestRequest): void {
    this.events.emit('request', rec);
    this.events.emit('change');
  }

  /** Resolves once `check` returns a value other than undefined/false (re-checked on every change). */
  async waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    const first = check();
    if (first !== undefined && first !== false) return first;
    return new Promise<T>((resolve, reject) => {
      const onChange = () => {
        const v = check();
        if (v !== undefined && v !== false) {
          cleanup();
          resolve(v);
        }
      };
      const poll = setInterval(onChange, 50);
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.events.off('change', onChange);
      };
      this.events.on('change', onChange);
    });
  }
}
