import { once } from 'node:events';
import {
  Client,
  Events,
  GatewayIntentBits,
  Partials,
  PermissionFlagsBits,
  REST,
  Routes,
  Status,
  type ClientOptions,
  type Interaction,
  type Message,
  type RESTOptions,
} from 'discord.js';
import type { Deliver, Diagnosis, PlatformAdapter, ReplySurface } from '../../kernel/adapter.js';
import type { AdapterDeps } from '../deps.js';
import type { IncomingMessage } from '../../kernel/types.js';
import type { Logger } from '../../kernel/logger.js';
import type { DiscordSettings } from '../../config/env.js';
import { describe } from '../../kernel/errors.js';
import { DiscordApi } from './api.js';
import { commandRole, commandSpecs, PARLEY_COMMAND, PARLEY_OPTION, QUESTION_OPTION, registerCommands } from './commands.js';
import { DiscordFeedback } from './feedback.js';
import { ConversationLinks } from './links.js';
import { factsOf, routeCommand, routeMessage, type ReplyMode, type ReplyPlan, type Routed } from './parse.js';
import { ChannelActivity } from './contention.js';
import { ChannelSurface, InteractionSurface, resumeSurface, type ResumableReply } from './surface.js';

// Reactions (👍/👎 on answers) need their own, non-privileged intents.
const BASE_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.GuildMessageReactions,
  GatewayIntentBits.DirectMessageReactions,
];
const DISALLOWED_INTENTS_CLOSE = 4014; // gateway close code: a privileged intent is not enabled for the app
const PENDING_REPLIES_MAX = 1000; // reply plans kept for messages the engine has not opened yet
const DEDUPE_TTL_MS = 10 * 60_000; // two processes on one token both receive every event
const MESSAGE_CONTENT_FLAG = 1 << 18; // application flag GATEWAY_MESSAGE_CONTENT (verified bots)
const MESSAGE_CONTENT_LIMITED_FLAG = 1 << 19; // GATEWAY_MESSAGE_CONTENT_LIMITED (bots under 100 servers)

/**
 * Permissions the bot needs, no more: see and read channels, send (also in threads), reply
 * (replying needs Read Message History), and open threads in thread mode.
 */
export function requiredPermissions(replyMode: ReplyMode): bigint {
  let p =
    PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.SendMessagesInThreads | PermissionFlagsBits.ReadMessageHistory;
  if (replyMode !== 'reply') p |= PermissionFlagsBits.CreatePublicThreads;
  return p;
}

export function inviteUrl(applicationId: string, replyMode: ReplyMode): string {
  const q = new URLSearchParams({ client_id: applicationId, scope: 'bot applications.commands', permissions: requiredPermissions(replyMode).toString() });
  return `https://discord.com/oauth2/authorize?${q.toString()}`;
}

/** Options for discord.js's REST client (exported for the api tests). */
export function restOptions(apiUrl: string | undefined): Partial<RESTOptions> {
  return {
    ...(apiUrl ? { api: apiUrl } : {}),
    // Throw on 429 instead of waiting inside @discordjs/rest: the Pacer holds the route for
    // retry_after and the renderer retries with the newest text (see api.ts).
    rejectOnRateLimit: () => true,
  };
}

export function createDiscordAdapter(settings: DiscordSettings, deps: AdapterDeps): PlatformAdapter {
  return new DiscordAdapter(settings, deps);
}

export class DiscordAdapter implements PlatformAdapter {
  readonly platform = 'discord';
  private readonly log: Logger;
  private readonly links: ConversationLinks;
  private readonly feedback: DiscordFeedback;
  private client?: Client;
  private api?: DiscordApi;
  private deliver?: Deliver;
  private readonly plans = new Map<string, ReplyPlan>();
  private readonly activity = new ChannelActivity();
  /** False when the app lacks the privileged MESSAGE_CONTENT intent (gateway close 4014). */
  messageContent = true;
  private stopping = false;

  constructor(
    private readonly settings: DiscordSettings,
    private readonly deps: AdapterDeps,
  ) {
    this.log = deps.log.child({ platform: 'discord' });
    this.links = new ConversationLinks(deps.store, this.log);
    this.feedback = new DiscordFeedback({
      api: () => this.api,
      store: deps.store,
      botId: () => this.client?.user?.id,
      applicationId: () => this.client?.application?.id ?? this.client?.user?.id,
      feedback: deps.feedback,
      log: this.log,
    });
  }

  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
    try {
      await this.connect(true);
    } catch (err) {
      if (!isDisallowedIntents(err)) throw err;
      this.warnNoMessageContent();
      await this.connect(false);
    }
    const client = this.client!;
    const applicationId = client.application?.id ?? client.user!.id;
    if (this.settings.command === PARLEY_COMMAND) {
      this.log.warn(
        `DISCORD_COMMAND=${this.settings.command} is Parley's own /${PARLEY_COMMAND} command (usage, forget, stats): it stays that, and no slash command for questions is registered. ` +
          'Questions still work by mention, reply and DM; set DISCORD_COMMAND to another name (e.g. ask) for one.',
      );
    }
    // One list request, then only the commands that changed (failures are logged there).
    await registerCommands(this.api!, commandSpecs(this.settings.command), { applicationId, guildId: this.settings.guildId, log: this.log });
    this.log.info(
      {
        bot: client.user?.tag,
        guilds: client.guilds.cache.size,
        messageContent: this.messageContent,
        inviteUrl: inviteUrl(applicationId, this.settings.replyMode),
      },
      `Discord connected. Invite the bot with: ${inviteUrl(applicationId, this.settings.replyMode)}`,
    );
  }

  private warnNoMessageContent(): void {
    this.messageContent = false;
    this.log.warn(
      'The Message Content intent is not enabled for this bot (gateway close 4014). Parley keeps answering mentions, replies and DMs, ' +
        'but cannot read follow-ups in threads without a mention. Enable it under Developer Portal → your application → Bot → Privileged Gateway Intents → Message Content Intent.',
    );
  }

  private buildClient(withMessageContent: boolean): Client {
    const options: ClientOptions = {
      intents: withMessageContent ? [...BASE_INTENTS, GatewayIntentBits.MessageContent] : BASE_INTENTS,
      // Without Partials.Channel, DMs in channels not yet cached are dropped silently.
      partials: [Partials.Channel],
      // Defence in depth for anything discord.js itself sends; api.ts sets this on every request.
      allowedMentions: { parse: [], repliedUser: false },
      rest: restOptions(this.settings.apiUrl),
    };
    return new Client(options);
  }

  private async connect(withMessageContent: boolean): Promise<void> {
    const client = this.buildClient(withMessageContent);
    let disallowed = false;
    client.on(Events.ShardDisconnect, (event) => {
      if (event.code !== DISALLOWED_INTENTS_CLOSE) return;
      disallowed = true;
      // Revoked while running: reconnect without the privileged intent.
      if (this.client === client && this.messageContent && !this.stopping) {
        this.warnNoMessageContent();
        void this.reconnectWithoutMessageContent(client);
      }
    });
    client.on(Events.MessageCreate, (m) => void this.onMessage(m));
    client.on(Events.InteractionCreate, (i) => void this.onInteraction(i));
    // Buttons, modals and reactions as raw packets: no message cache or partials needed.
    client.on(Events.Raw, (packet: { t?: string | null; d?: unknown }) => this.feedback.onRaw(packet));
    client.on(Events.ShardResume, (_id, replayed) => this.log.info({ replayed }, 'gateway session resumed'));
    client.on(Events.ShardReconnecting, () => {
      if (!this.stopping) this.log.info('gateway connection lost; reconnecting');
    });
    client.on(Events.Error, (err) => this.log.error({ err: describe(err) }, 'discord client error'));
    const ready = once(client, Events.ClientReady);
    ready.catch(() => undefined); // awaited below; only login's own error is reported when login fails
    try {
      await client.login(this.settings.token);
      await ready;
    } catch (err) {
      await client.destroy().catch(() => undefined);
      throw disallowed ? Object.assign(new Error('disallowed intents'), { code: DISALLOWED_INTENTS_CLOSE, cause: err }) : err;
    }
    this.client = client;
    // One api (one pacer) for the adapter's life, reading the current client's REST.
    this.api ??= new DiscordApi(() => {
      if (!this.client) throw new Error('the Discord adapter is stopped');
      return this.client.rest;
    }, this.deps.createPacer);
    // Logging in fetched GET /gateway/bot, which discord.js counts in the global limit too.
    await this.api.countClientRequest();
  }

  private async reconnectWithoutMessageContent(old: Client): Promise<void> {
    await old.destroy().catch(() => undefined);
    try {
      await this.connect(false);
    } catch (err) {
      this.log.error({ err: describe(err) }, 'reconnecting to Discord without the Message Content intent failed');
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.client?.destroy();
    await this.api?.stop();
    this.client = undefined;
  }

  private remember(routed: Routed): void {
    if (this.plans.size >= PENDING_REPLIES_MAX) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(routed.message.id, routed.plan);
  }

  private async firstTime(id: string): Promise<boolean> {
    try {
      return await this.deps.store.claim(`discord:event:${id}`, DEDUPE_TTL_MS);
    } catch (err) {
      // Answering twice is better than not answering: a store outage does not block messages.
      this.log.warn({ err: describe(err) }, 'dedupe check failed');
      return true;
    }
  }

  private async onMessage(m: Message): Promise<void> {
    const client = this.client;
    if (!client?.user || !this.deliver) return;
    try {
      const routed = await routeMessage(factsOf(m, client.user.id), { botId: client.user.id, replyMode: this.settings.replyMode, links: this.links });
      if (!routed || !(await this.firstTime(m.id))) return;
      this.remember(routed);
      void this.deliver(routed.message);
    } catch (err) {
      this.log.error({ err: describe(err), messageId: m.id }, 'handling a Discord message failed');
    }
  }

  private async onInteraction(i: Interaction): Promise<void> {
    if (!i.isChatInputCommand() || !this.api || !this.deliver) return;
    // The same rule as registration (commandSpecs): `/parley …` (usage, forget, stats) is always the
    // admin command, answered privately (the reply is deferred as ephemeral), even when
    // DISCORD_COMMAND=parley; any other name is the ask command only when it is DISCORD_COMMAND.
    const role = commandRole(i.commandName, this.settings.command);
    if (!role) return;
    const parley = role === 'admin';
    try {
      if (!(await this.firstTime(i.id))) return;
      // Discord drops interactions not acknowledged within 3 s: defer before anything else.
      await this.api.deferInteraction(i.id, i.token, parley);
      const routed = routeCommand(i, parley ? PARLEY_OPTION : QUESTION_OPTION);
      if (parley) routed.message.ephemeral = true;
      this.remember(routed);
      void this.deliver(routed.message);
    } catch (err) {
      this.log.error({ err: describe(err), interactionId: i.id }, `handling /${i.commandName} failed`);
    }
  }

  /** For /readyz: the gateway connection is up. */
  async health(): Promise<void> {
    const client = this.client;
    if (!client?.isReady()) throw new Error('not connected to the Discord gateway');
    if (client.ws.status !== Status.Ready) throw new Error(`gateway status ${Status[client.ws.status] ?? client.ws.status}`);
  }

  /** Posts a standalone message (alerts, handoffs); mentions stay inert except the `ping` role. */
  async announce(channel: string, text: string, options: { ping?: string } = {}): Promise<void> {
    if (!this.api) throw new Error('the Discord adapter is not started');
    await this.api.announce(channel, text, { pingRole: options.ping });
  }

  /** For `parley doctor`: the token is accepted, and the Message Content intent is enabled. */
  async diagnose(): Promise<Diagnosis[]> {
    const rest = new REST(restOptions(this.settings.apiUrl)).setToken(this.settings.token);
    try {
      const me = (await rest.get(Routes.user())) as { username?: string; id: string };
      const app = (await rest.get(Routes.currentApplication()).catch(() => undefined)) as { flags?: number } | undefined;
      const results: Diagnosis[] = [{ check: 'discord token', ok: true, detail: `accepted for bot ${me.username ?? me.id}` }];
      if (app?.flags !== undefined) {
        const enabled = (app.flags & (MESSAGE_CONTENT_FLAG | MESSAGE_CONTENT_LIMITED_FLAG)) !== 0;
        results.push({
          check: 'discord Message Content intent',
          ok: enabled,
          detail: enabled ? 'enabled' : 'not enabled: thread follow-ups without a mention cannot be read',
          fix: enabled ? undefined : 'Developer Portal → your application → Bot → Privileged Gateway Intents → Message Content Intent',
        });
      }
      return results;
    } catch (err) {
      return [{ check: 'discord token', ok: false, detail: describe(err), fix: 'check DISCORD_TOKEN (Developer Portal → Bot → Reset Token)' }];
    }
  }

  /** Finishes a reply a previous process left half-written (crash recovery). */
  async resumeReply(location: unknown): Promise<ReplySurface> {
    if (!this.api) throw new Error('the Discord adapter is not started');
    const r = location as ResumableReply;
    if (r?.kind !== 'channel' && r?.kind !== 'interaction') throw new Error('not a Discord reply location');
    return resumeSurface(r, { api: this.api, links: this.links, log: this.log });
  }

  async openReply(message: IncomingMessage): Promise<ReplySurface> {
    const api = this.api;
    const client = this.client;
    if (!api || !client) throw new Error('the Discord adapter is not started');
    let plan: ReplyPlan = this.plans.get(message.id) ?? { kind: 'channel', channelId: message.channel, replyTo: message.id, inThread: false };
    this.plans.delete(message.id);
    let done: (() => void) | undefined;
    if (plan.kind === 'channel') {
      // auto mode: a quiet channel gets a reply; a channel already answering someone, a thread.
      if (plan.startThread?.busyOnly && !this.activity.busy(plan.channelId)) plan = { ...plan, startThread: undefined };
      if (!plan.startThread) done = this.activity.begin(plan.channelId);
    }
    const deps = {
      api,
      links: this.links,
      log: this.log,
      conversation: { channel: message.channel, thread: message.thread },
      actions: { answerId: message.id, feedback: this.feedback },
    };
    if (plan.kind === 'interaction') return new InteractionSurface(plan, client.application?.id ?? client.user!.id, deps);
    const channelId = plan.channelId;
    return new ChannelSurface(plan, { ...deps, onComplete: done, beginChannelReply: () => this.activity.begin(channelId), awaitsFirstWords: true });
  }
}

function isDisallowedIntents(err: unknown): boolean {
  return (err as { code?: unknown })?.code === DISALLOWED_INTENTS_CLOSE || /disallowed intents/i.test(describe(err));
}
