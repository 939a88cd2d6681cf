import { App, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { Deliver, Diagnosis, MessageRef, PlatformAdapter, ReplySurface } from '../../kernel/adapter.js';
import type { AdapterDeps } from '../deps.js';
import type { IncomingMessage } from '../../kernel/types.js';
import { ConfigError, describe } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { SlackSettings } from '../../config/env.js';
import type { Pacer } from '../../pacing/pacer.js';
import { boltLogger, createSlackPacer, SLACK_PACING, slackClientOptions, slackErrorCode, SlackApi, toPlatformError } from './api.js';
import { messageMrkdwn, slackToReadable } from './format.js';
import { SlackNames } from './names.js';
import { isDirectMessage, parseAskText, skipReason, threadOf, toIncomingMessage, triggerOf, type BotIdentity, type SlackMessageEvent } from './parse.js';
import { ResponseUrlSurface, ThreadSurface, type ResumableSlackReply } from './surface.js';
import { registerFeedbackActions } from './feedback.js';
import { mountSlackEvents } from './verify.js';
import { AGENT_VIEW_EVENTS, ASSISTANT_VIEW_EVENTS, registerAgentEvents } from './agent.js';

/** Slack retries an unacknowledged event at once, after 1 minute and after 5 minutes. */
export const EVENT_DEDUPE_TTL_MS = 10 * 60_000;
/** A thread the bot answered keeps getting answers without a new mention for this long. */
export const ACTIVE_THREAD_TTL_MS = 30 * 86_400_000;
/** A slash command's response_url works for 30 minutes. */
const RESPONSE_URL_TTL_MS = 30 * 60_000;
export const EVENTS_PATH = '/slack/events';
/** Usage, privacy and admin commands (`/parley usage`, `/parley forget`, `/parley stats`). */
export const ADMIN_COMMAND = 'parley';
/** The echoed question stays well under chat.postMessage's 4,000-character `text` limit. */
const ECHO_MAX_CHARS = 3_500;

/** Message and reaction events the adapter listens to (`message.*` in the manifest for `message`). */
const MESSAGE_EVENTS = ['app_mention', 'message', 'reaction_added'] as const;
/**
 * Every event type the adapter listens to. slack/manifest.yaml (agent view) subscribes to all but the
 * assistant-view ones, which apps created before agent view still send (checked by a test).
 */
export const HANDLED_EVENTS = [...MESSAGE_EVENTS, ...AGENT_VIEW_EVENTS, ...ASSISTANT_VIEW_EVENTS] as const;
const UP_REACTIONS = new Set(['+1', 'thumbsup']);
const DOWN_REACTIONS = new Set(['-1', 'thumbsdown']);

/** The bot scopes Parley uses; slack/manifest.yaml asks for exactly these (checked by a test). */
export const REQUIRED_SCOPES = [
  'app_mentions:read',
  'assistant:write',
  'channels:history',
  'channels:read',
  'chat:write',
  'chat:write.public',
  'commands',
  'files:read',
  'groups:history',
  'groups:read',
  'im:history',
  'reactions:read',
  'users:read',
];

export class SlackAdapter implements PlatformAdapter {
  readonly platform = 'slack' as const;
  private readonly log: Logger;
  private readonly pacer: Pacer;
  /** Whether this adapter built its pacer (and stops it); a pacer from `deps.createPacer` belongs to Parley. */
  private readonly ownsPacer: boolean;
  private readonly api: SlackApi;
  private app?: App;
  private deliver?: Deliver;
  private bot: BotIdentity = { userId: '' };
  private team = '';
  private names?: SlackNames;
  private stopped = false;
  /** Private `/ask` answers: message id → response_url, until the engine opens the reply. */
  private readonly privateReplies = new Map<string, { url: string; at: number }>();

  constructor(
    private readonly settings: SlackSettings,
    private readonly deps: AdapterDeps,
  ) {
    this.log = deps.log.child({ platform: 'slack' });
    const shared = deps.createPacer?.('slack', SLACK_PACING);
    this.pacer = shared ?? createSlackPacer();
    this.ownsPacer = !shared;
    this.api = new SlackApi(settings.botToken, settings.apiUrl, this.pacer, this.log);
  }

  get socketMode(): boolean {
    return Boolean(this.settings.appToken);
  }

  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
    const logger = boltLogger(this.log) as never;
    const clientOptions = slackClientOptions(this.settings.apiUrl, this.log);
    let http: HTTPReceiver | undefined;
    let receiver: SocketModeReceiver | HTTPReceiver;
    if (this.settings.appToken) {
      // The socket client keeps its own retry policy for apps.connections.open (reconnects); only the host and logger are ours.
      const socketClientOptions = { slackApiUrl: clientOptions.slackApiUrl, logger: clientOptions.logger };
      receiver = new SocketModeReceiver({ appToken: this.settings.appToken, logger, installerOptions: { clientOptions: socketClientOptions } });
    } else {
      if (!this.settings.signingSecret) throw new ConfigError('SLACK_SIGNING_SECRET', 'required for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
      // Bolt verifies the signature and staleness again; the route below checks first (bounded body, future timestamps).
      http = new HTTPReceiver({ signingSecret: this.settings.signingSecret, endpoints: EVENTS_PATH, logger, processBeforeResponse: false });
      receiver = http;
    }
    const app = new App({ token: this.settings.botToken, receiver, logger, clientOptions, deferInitialization: true });
    this.app = app;
    this.register(app);
    await app.init();
    const auth = await this.api.call<{ user_id?: string; bot_id?: string; team_id?: string }>('auth.test', () => ({}), { bucket: 'misc', scope: 'auth' });
    this.bot = { userId: auth.user_id ?? '', botId: auth.bot_id };
    this.team = auth.team_id ?? '';
    this.names = new SlackNames(this.api, this.team, this.log);
    if (http) {
      // Bounded read, timestamp window both ways and signature (the route's auth) before Bolt sees anything.
      mountSlackEvents(this.deps.http, EVENTS_PATH, http.requestListener, {
        signingSecret: this.settings.signingSecret!,
        stopped: () => this.stopped,
        log: this.log,
      });
    } else {
      await app.start();
    }
    this.log.info({ mode: this.socketMode ? 'socket' : 'http', team: this.team }, 'slack adapter started');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // HTTPReceiver never opened a server of its own (it is mounted on the shared one).
    if (this.socketMode) await this.app?.stop().catch((err: unknown) => this.log.warn({ err }, 'slack socket close failed'));
    if (this.ownsPacer) await this.pacer.stop();
  }

  /** For /readyz: the token still works (auth.test; the readiness cache keeps this cheap). */
  async health(): Promise<void> {
    await this.api.call('auth.test', () => ({}), { bucket: 'misc', scope: 'auth', retryRateLimited: false });
  }

  /**
   * Posts a standalone message (alerts, handoffs); mentions are made inert by the formatter,
   * except `ping`: the one user group (`S…`) notified, put in front of the text.
   */
  async announce(channel: string, text: string, options: { ping?: string } = {}): Promise<void> {
    const ping = options.ping && /^S[A-Z0-9]+$/.test(options.ping) ? `<!subteam^${options.ping}> ` : '';
    if (options.ping && !ping) this.log.warn('the handoff ping is not a Slack user group id (S…); posting without a ping');
    await this.api.call('chat.postMessage', () => ({ channel, text: ping + messageMrkdwn(text), unfurl_links: false, unfurl_media: false }), {
      bucket: 'post',
      scope: channel,
      priority: 'final',
    });
  }

  /** For `parley doctor`: the bot token, its scopes against the manifest's, and the Socket Mode token. */
  async diagnose(): Promise<Diagnosis[]> {
    const results: Diagnosis[] = [];
    try {
      const auth = await this.api.call<{ team?: string; user?: string; response_metadata?: { scopes?: string[] } }>('auth.test', () => ({}), {
        bucket: 'misc',
        scope: 'auth',
      });
      results.push({ check: 'slack bot token', ok: true, detail: `accepted for ${auth.user ?? 'the bot'} in ${auth.team ?? 'the workspace'}` });
      const granted = auth.response_metadata?.scopes;
      if (granted) {
        const missing = REQUIRED_SCOPES.filter((s) => !granted.includes(s));
        results.push({
          check: 'slack scopes',
          ok: missing.length === 0,
          detail: missing.length ? `missing ${missing.join(', ')}` : `all ${REQUIRED_SCOPES.length} granted`,
          fix: missing.length ? 'add the scopes from slack/manifest.yaml (OAuth & Permissions), then reinstall the app to the workspace' : undefined,
        });
      }
    } catch (err) {
      results.push({
        check: 'slack bot token',
        ok: false,
        detail: describe(err),
        fix: 'check SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token, xoxb-…)',
      });
    }
    if (this.settings.appToken) {
      try {
        const socket = new webApi.WebClient(this.settings.appToken, slackClientOptions(this.settings.apiUrl, this.log));
        await socket.apiCall('apps.connections.open', {});
        results.push({ check: 'slack socket mode token', ok: true, detail: 'can open a Socket Mode connection' });
      } catch (err) {
        results.push({
          check: 'slack socket mode token',
          ok: false,
          detail: describe(toPlatformError('apps.connections.open', err)),
          fix: 'check SLACK_APP_TOKEN (Basic Information → App-Level Tokens, scope connections:write) and that Socket Mode is on',
        });
      }
    }
    return results;
  }

  /** Finishes a reply a previous process left half-written (crash recovery). */
  async resumeReply(location: unknown): Promise<ReplySurface> {
    const r = location as ResumableSlackReply;
    if (r?.kind === 'thread') return new ThreadSurface(this.api, r.target, this.log);
    if (r?.kind === 'response_url') return new ResponseUrlSurface(this.api, r.url).resume(r.first);
    throw new Error('not a Slack reply location');
  }

  async openReply(message: IncomingMessage): Promise<ReplySurface> {
    const pending = this.privateReplies.get(message.id);
    if (message.ephemeral && pending) {
      this.privateReplies.delete(message.id);
      return new ResponseUrlSurface(this.api, pending.url);
    }
    // The thread was marked active at intake (onMessage, onCommand): nothing to write before the first sign of life.
    return new ThreadSurface(
      this.api,
      { team: message.workspace, channel: message.channel, threadTs: message.thread, recipientUser: message.user.id, recipientTeam: message.workspace },
      this.log,
      this.deps.feedback ? { answerId: message.id, remember: (refs) => this.rememberAnswer(message.channel, refs, message.id) } : undefined,
    );
  }

  private answers() {
    return this.deps.store.namespace<string>('slack-answers');
  }

  /** Which answer each of its messages belongs to, so a 👍/👎 reaction on any of them counts. */
  private async rememberAnswer(channel: string, refs: MessageRef[], answerId: string): Promise<void> {
    await Promise.all(refs.map((ref) => this.answers().set(`${channel}:${ref.id}`, answerId, ACTIVE_THREAD_TTL_MS)));
  }

  /** A 👍/👎 reaction on an answer counts as a vote (Slack names them +1/thumbsup and -1/thumbsdown). */
  private async onReaction(e: ReactionEvent): Promise<void> {
    const kind = UP_REACTIONS.has(e.reaction) ? 'up' : DOWN_REACTIONS.has(e.reaction) ? 'down' : undefined;
    if (!kind || !this.deps.feedback || e.item?.type !== 'message' || !e.item.channel || !e.item.ts || e.user === this.bot.userId) return;
    try {
      const answerId = await this.answers().get(`${e.item.channel}:${e.item.ts}`);
      if (!answerId) return;
      await this.deps.feedback({ platform: 'slack', answerId, kind, user: { id: e.user }, at: Date.now(), viaReaction: true });
    } catch (err) {
      this.log.error({ err: describe(err) }, 'handling a reaction failed');
    }
  }

  private register(app: App): void {
    const [mention, message, reaction] = MESSAGE_EVENTS;
    app.event(mention, async ({ event, body }) => this.onMessage(event as unknown as SlackMessageEvent, body as unknown as EventBody));
    app.event(message, async ({ event, body }) => this.onMessage(event as unknown as SlackMessageEvent, body as unknown as EventBody));
    app.event(reaction, async ({ event }) => this.onReaction(event as unknown as ReactionEvent));
    // Agent view (new apps) and assistant view (apps created before): the DM opened, suggested prompts.
    registerAgentEvents(app, { api: this.api, log: this.log, team: () => this.team });
    app.command(`/${this.settings.command}`, async ({ command, ack }) => this.onCommand(command as unknown as CommandBody, ack));
    // 👍/👎/Talk to a human/Resume buttons (Block Kit `block_actions`).
    registerFeedbackActions(app, { api: this.api, feedback: this.deps.feedback, log: this.log });
    app.command(`/${ADMIN_COMMAND}`, async ({ command, ack }) => this.onAdminCommand(command as unknown as CommandBody, ack));
    app.error(async (err) => {
      this.log.error({ err: { name: err.name, code: (err as { code?: string }).code, message: err.message } }, 'slack listener failed');
    });
  }

  private async onMessage(e: SlackMessageEvent, body: EventBody): Promise<void> {
    const reason = skipReason(e, this.bot, { allowBots: this.settings.allowBots ?? false });
    if (reason) return void this.log.debug({ reason, channel: e.channel }, 'slack event skipped');
    const team = body.team_id ?? e.team ?? this.team;
    const active = e.type === 'message' && !!e.thread_ts && !isDirectMessage(e) ? await this.isActive(team, e.channel, e.thread_ts) : false;
    const trigger = triggerOf(e, this.bot, active);
    if (!trigger) return;
    if (!(await this.firstDelivery(`event:${body.event_id ?? `${team}:${e.channel}:${e.ts}`}`))) {
      return void this.log.debug({ eventId: body.event_id }, 'slack event already handled (retry)');
    }
    // Marked before delivery: a follow-up written while the answer streams is already "in a bot thread".
    // A follow-up refreshes the mark, so a thread in use keeps being answered past the TTL.
    if (trigger === 'mention' || trigger === 'thread_follow_up') await this.markActive(team, e.channel, threadOf(e));
    const message = await toIncomingMessage(e, { team, trigger, bot: this.bot, lookups: this.lookups(), botToken: this.settings.botToken });
    void this.deliver?.(message);
  }

  private async onCommand(cmd: CommandBody, ack: (response?: Record<string, unknown>) => Promise<void>): Promise<void> {
    const ask = parseAskText(cmd.text ?? '', this.settings.askPrivateByDefault ?? false);
    if (!ask.question) {
      await ack({
        response_type: 'ephemeral',
        text: `Ask a question: \`/${this.settings.command} How do I reset my password?\` (add \`private\` first for an answer only you see).`,
      });
      return;
    }
    // Acknowledged first: Slack shows an error to the user when the ack takes over 3 seconds.
    await ack();
    if (!(await this.firstDelivery(`command:${cmd.trigger_id}`))) return;
    const team = cmd.team_id ?? this.team;
    const text = await slackToReadable(ask.question, this.lookups(), this.bot.userId);
    const base: Omit<IncomingMessage, 'thread' | 'id'> = {
      platform: 'slack',
      workspace: team,
      channel: cmd.channel_id,
      user: { id: cmd.user_id, name: cmd.user_name },
      text,
      attachments: [],
      trigger: 'slash_command',
      command: this.settings.command,
      receivedAt: Date.now(),
    };
    if (!ask.private) {
      try {
        const echo = await this.api.call<{ ts: string }>(
          'chat.postMessage',
          () => ({
            channel: cmd.channel_id,
            text: `<@${cmd.user_id}> asked: ${messageMrkdwn(text).slice(0, ECHO_MAX_CHARS)}`,
            unfurl_links: false,
            unfurl_media: false,
          }),
          { bucket: 'post', scope: cmd.channel_id, priority: 'normal' },
        );
        await this.markActive(team, cmd.channel_id, echo.ts);
        void this.deliver?.({ ...base, thread: echo.ts, id: echo.ts, ephemeral: false });
        return;
      } catch (err) {
        // The bot cannot post here (a private channel it is not in, a DM between others): answer privately.
        this.log.info({ code: slackErrorCode(err), channel: cmd.channel_id }, 'slack /ask echo failed; answering privately');
      }
    }
    this.rememberPrivate(cmd.trigger_id, cmd.response_url);
    void this.deliver?.({ ...base, thread: `command-${cmd.trigger_id}`, id: cmd.trigger_id, ephemeral: true });
  }

  /** `/parley usage|forget|stats…`: answered privately through response_url by the engine's command middleware. */
  private async onAdminCommand(cmd: CommandBody, ack: (response?: Record<string, unknown>) => Promise<void>): Promise<void> {
    await ack();
    if (!(await this.firstDelivery(`command:${cmd.trigger_id}`))) return;
    this.rememberPrivate(cmd.trigger_id, cmd.response_url);
    void this.deliver?.({
      platform: 'slack',
      workspace: cmd.team_id ?? this.team,
      channel: cmd.channel_id,
      thread: `command-${cmd.trigger_id}`,
      id: cmd.trigger_id,
      user: { id: cmd.user_id, name: cmd.user_name },
      text: (cmd.text ?? '').trim(),
      attachments: [],
      trigger: 'slash_command',
      command: ADMIN_COMMAND,
      receivedAt: Date.now(),
      ephemeral: true,
    });
  }

  /** True for the first delivery of `key` across every instance sharing the store. */
  private async firstDelivery(key: string): Promise<boolean> {
    try {
      return await this.deps.store.claim(`slack:${key}`, EVENT_DEDUPE_TTL_MS);
    } catch (err) {
      // Store outage: answering twice is better than never answering.
      this.log.warn({ err }, 'slack dedupe store unavailable; handling the event anyway');
      return true;
    }
  }

  private threads() {
    return this.deps.store.namespace<true>('slack-threads');
  }

  private async markActive(team: string, channel: string, thread: string): Promise<void> {
    await this.threads().set(`${team}:${channel}:${thread}`, true, ACTIVE_THREAD_TTL_MS);
  }

  private async isActive(team: string, channel: string, thread: string): Promise<boolean> {
    return (await this.threads().get(`${team}:${channel}:${thread}`)) === true;
  }

  private lookups(): SlackNames {
    this.names ??= new SlackNames(this.api, this.team, this.log);
    return this.names;
  }

  private rememberPrivate(id: string, url: string): void {
    const now = Date.now();
    for (const [k, v] of this.privateReplies) if (now - v.at > RESPONSE_URL_TTL_MS) this.privateReplies.delete(k);
    this.privateReplies.set(id, { url, at: now });
  }
}

interface EventBody {
  event_id?: string;
  team_id?: string;
}

interface CommandBody {
  text?: string;
  team_id?: string;
  channel_id: string;
  user_id: string;
  user_name?: string;
  trigger_id: string;
  response_url: string;
}

interface ReactionEvent {
  user: string;
  reaction: string;
  item?: { type?: string; channel?: string; ts?: string };
}
