import { DiscordAPIError, HTTPError, RateLimitError as RestRateLimitError, Routes, type REST } from 'discord.js';
import { resolveContent, type Content } from '../../kernel/adapter.js';
import { NetworkError, PlatformError, RateLimitError, describe } from '../../kernel/errors.js';
import { Pacer, type PacerSettings, type Priority } from '../../pacing/pacer.js';
import type { CreatePacer } from '../../pacing/factory.js';
import { toDiscordContent } from './format.js';

/**
 * Every REST call the adapter makes, wrapped once with a Pacer, errors turned into
 * PlatformError / RateLimitError / NetworkError.
 *
 * Pacing and @discordjs/rest's own 429 handling: the client is built with
 * `rejectOnRateLimit: () => true` (see index.ts), so @discordjs/rest never waits out a 429
 * (or a bucket it already knows is empty) by itself: it throws. We turn that into a
 * RateLimitError; the Pacer then holds that channel's scope for `retry_after` (so nothing is
 * sent to a 429ed route before Discord allows it) and the renderer retries with the newest
 * text. Letting @discordjs/rest wait instead would keep a stale request queued inside the
 * client where our coalescing cannot reach it.
 */

/** No ping can ever come from the bot: no parsed mentions, and replies do not ping the asker. */
export const ALLOWED_MENTIONS = Object.freeze({ parse: [] as string[], replied_user: false });

// Measured practice: ~5 message writes per 5 s per channel. Spaced evenly rather than as a
// refilling budget of 5, so a burst of progress edits can never make the final edit wait for
// the next 5-second refill; 1.1 s rather than 1 s, because network jitter on exactly one a
// second lets a sixth write land inside some 5-second window (the bench saw 429s at 1.0 s).
const MESSAGE_WRITE_SPACING_MS = 1_100;
const GLOBAL_REQUESTS = { amount: 50, intervalMs: 1_000 }; // Discord: 50 requests/s per bot
const FALLBACK_RETRY_AFTER_MS = 1_000; // when a 429 carries no usable retry_after
const EPHEMERAL_FLAG = 1 << 6; // MessageFlags.Ephemeral
const DEFERRED_CHANNEL_MESSAGE = 5; // InteractionResponseType.DeferredChannelMessageWithSource
const THREAD_AUTO_ARCHIVE_MINUTES = 1440; // one day, available on every server

export interface ApiMessage {
  id: string;
  channel_id: string;
}

export interface CommandSpec {
  name: string;
  description: string;
  options?: unknown[];
  [key: string]: unknown;
}

export class DiscordApi {
  readonly pacer: Pacer;
  private readonly restOf: () => REST;

  /** `rest` may be a getter: the adapter swaps clients (reconnecting without an intent) under one pacer. */
  constructor(rest: REST | (() => REST), createPacer?: CreatePacer) {
    this.restOf = typeof rest === 'function' ? rest : () => rest;
    const settings: Omit<PacerSettings, 'cluster'> = {
      global: { perInterval: GLOBAL_REQUESTS },
      buckets: {
        message: { minTimeMs: MESSAGE_WRITE_SPACING_MS },
        // Typing and interaction acknowledgements must not wait behind a channel's edits.
        typing: {},
        ack: { maxConcurrent: 10 },
        commands: {},
      },
    };
    // Through the factory: shared across instances on Redis, and counted in the metrics.
    this.pacer = createPacer?.('discord', settings) ?? new Pacer(settings);
  }

  /** Runs `call` through the pacer; `content` is resolved only as the request leaves. */
  private send<T>(bucket: string, scope: string, method: string, priority: Priority, call: () => Promise<unknown>): Promise<T> {
    return this.pacer.schedule(bucket, scope, async () => {
      try {
        return (await call()) as T;
      } catch (err) {
        throw toPlatformError(method, err);
      }
    }, priority);
  }

  createMessage(channelId: string, content: Content, o: { replyTo?: string; final: boolean }): Promise<ApiMessage> {
    return this.send('message', channelId, 'createMessage', priorityOf(o.final), () =>
      this.restOf().post(Routes.channelMessages(channelId), {
        body: {
          content: toDiscordContent(resolveContent(content)),
          allowed_mentions: ALLOWED_MENTIONS,
          ...(o.replyTo ? { message_reference: { message_id: o.replyTo, fail_if_not_exists: false } } : {}),
        },
      }),
    );
  }

  editMessage(channelId: string, messageId: string, content: Content, o: { final: boolean }): Promise<ApiMessage> {
    return this.send('message', channelId, 'editMessage', priorityOf(o.final), () =>
      this.restOf().patch(Routes.channelMessage(channelId, messageId), {
        body: { content: toDiscordContent(resolveContent(content)), allowed_mentions: ALLOWED_MENTIONS },
      }),
    );
  }

  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.send('message', channelId, 'deleteMessage', 'final', () => this.restOf().delete(Routes.channelMessage(channelId, messageId)));
  }

  async sendTyping(channelId: string): Promise<void> {
    await this.send('typing', channelId, 'sendTyping', 'normal', () => this.restOf().post(Routes.channelTyping(channelId)));
  }

  /** Starts a public thread on `messageId`; Discord gives the thread the message's id. */
  startThread(channelId: string, messageId: string, name: string): Promise<{ id: string }> {
    return this.send('message', channelId, 'startThread', 'final', () =>
      this.restOf().post(Routes.threads(channelId, messageId), { body: { name, auto_archive_duration: THREAD_AUTO_ARCHIVE_MINUTES } }),
    );
  }

  /** Acknowledges an interaction with "thinking…" (must happen within 3 s of its creation). */
  async deferInteraction(interactionId: string, token: string, ephemeral: boolean): Promise<void> {
    await this.send('ack', interactionId, 'deferReply', 'final', () =>
      this.restOf().post(Routes.interactionCallback(interactionId, token), {
        auth: false,
        body: { type: DEFERRED_CHANNEL_MESSAGE, data: { flags: ephemeral ? EPHEMERAL_FLAG : 0, allowed_mentions: ALLOWED_MENTIONS } },
      }),
    );
  }

  /** Edits the interaction's reply (`@original`) or one of its follow-ups. */
  editInteractionMessage(o: { applicationId: string; token: string; channelId: string; messageId: string; content: Content; final: boolean }): Promise<ApiMessage> {
    return this.send('message', o.channelId, 'editReply', priorityOf(o.final), () =>
      this.restOf().patch(Routes.webhookMessage(o.applicationId, o.token, o.messageId), {
        auth: false,
        body: { content: toDiscordContent(resolveContent(o.content)), allowed_mentions: ALLOWED_MENTIONS },
      }),
    );
  }

  followUp(o: { applicationId: string; token: string; channelId: string; content: Content; final: boolean; ephemeral?: boolean }): Promise<ApiMessage> {
    return this.send('message', o.channelId, 'followUp', priorityOf(o.final), () =>
      this.restOf().post(Routes.webhook(o.applicationId, o.token), {
        auth: false,
        body: { content: toDiscordContent(resolveContent(o.content)), allowed_mentions: ALLOWED_MENTIONS, ...(o.ephemeral ? { flags: EPHEMERAL_FLAG } : {}) },
      }),
    );
  }

  async deleteInteractionMessage(o: { applicationId: string; token: string; channelId: string; messageId: string }): Promise<void> {
    await this.send('message', o.channelId, 'deleteReply', 'final', () => this.restOf().delete(Routes.webhookMessage(o.applicationId, o.token, o.messageId), { auth: false }));
  }

  listCommands(applicationId: string, guildId?: string): Promise<(CommandSpec & { id: string })[]> {
    const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
    return this.send('commands', 'app', 'listCommands', 'normal', () => this.restOf().get(route));
  }

  /** Creates or overwrites one command by name (leaves the application's other commands alone, unlike PUT). */
  upsertCommand(applicationId: string, guildId: string | undefined, spec: CommandSpec): Promise<unknown> {
    const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
    return this.send('commands', 'app', 'upsertCommand', 'normal', () => this.restOf().post(route, { body: spec }));
  }

  /**
   * A standalone message (alerts, handoffs) that pings exactly `pingRole`, if given: the role
   * mention goes in front of the neutralised text and `allowed_mentions.roles` names only it.
   */
  announce(channelId: string, text: string, o: { pingRole?: string; components?: unknown[] } = {}): Promise<ApiMessage> {
    return this.send('message', channelId, 'createMessage', 'final', () =>
      this.restOf().post(Routes.channelMessages(channelId), {
        body: {
          content: (o.pingRole ? `<@&${o.pingRole}> ` : '') + toDiscordContent(text),
          allowed_mentions: o.pingRole ? { parse: [], roles: [o.pingRole], replied_user: false } : ALLOWED_MENTIONS,
          ...(o.components ? { components: o.components } : {}),
        },
      }),
    );
  }

  /** Replaces a channel message's components (buttons), leaving its text alone. */
  async setComponents(channelId: string, messageId: string, components: unknown[]): Promise<void> {
    await this.send('message', channelId, 'editMessage', 'final', () =>
      this.restOf().patch(Routes.channelMessage(channelId, messageId), { body: { components, allowed_mentions: ALLOWED_MENTIONS } }),
    );
  }

  /** Replaces the components of an interaction's reply (`@original`) or follow-up. */
  async setInteractionComponents(o: { applicationId: string; token: string; channelId: string; messageId: string; components: unknown[] }): Promise<void> {
    await this.send('message', o.channelId, 'editReply', 'final', () =>
      this.restOf().patch(Routes.webhookMessage(o.applicationId, o.token, o.messageId), { auth: false, body: { components: o.components, allowed_mentions: ALLOWED_MENTIONS } }),
    );
  }

  /** Answers a component or modal interaction (acknowledge, open a modal, …) within its 3 s. */
  async interactionResponse(interactionId: string, token: string, body: { type: number; data?: Record<string, unknown> }): Promise<void> {
    await this.send('ack', interactionId, 'interactionResponse', 'final', () =>
      this.restOf().post(Routes.interactionCallback(interactionId, token), { auth: false, body }),
    );
  }

  stop(): Promise<void> {
    return this.pacer.stop();
  }
}

function priorityOf(final: boolean): Priority {
  return final ? 'final' : 'progress';
}

/** @discordjs/rest errors → Parley's error classes (Discord's numeric code kept as platformCode). */
export function toPlatformError(method: string, err: unknown): Error {
  if (err instanceof RestRateLimitError) {
    const ms = Number.isFinite(err.retryAfter) && err.retryAfter > 0 ? err.retryAfter : FALLBACK_RETRY_AFTER_MS;
    return new RateLimitError(`discord:${err.route}`, ms, { cause: err });
  }
  if (err instanceof DiscordAPIError) return new PlatformError('discord', method, String(err.code), { cause: err, message: `discord ${method} failed: ${err.code} (HTTP ${err.status})` });
  if (err instanceof HTTPError) return new PlatformError('discord', method, `http_${err.status}`, { cause: err });
  return new NetworkError(`discord ${method}: ${describe(err)}`, { cause: err });
}

/** Discord error codes the adapter reacts to. */
export const DiscordCode = {
  unknownWebhook: '10015',
  invalidWebhookToken: '50027',
  unknownMessage: '10008',
  missingPermissions: '50013',
} as const;
