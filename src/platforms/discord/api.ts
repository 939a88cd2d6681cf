import {
  DiscordAPIError,
  HTTPError,
  RateLimitError as RestRateLimitError,
  RequestMethod,
  Routes,
  type REST,
  type RequestData,
  type RouteLike,
} from 'discord.js';
import { resolveContent, type Content, type SendOptions } from '../../kernel/adapter.js';
import { NetworkError, PlatformError, RateLimitError, describe } from '../../kernel/errors.js';
import { Pacer, type BucketState, type PacerSettings, type Priority, type ScheduleOptions } from '../../pacing/pacer.js';
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

// Message writes are paced from Discord's own X-RateLimit-Remaining / Reset-After (observe):
// no fixed spacing, so a fresh thread's first words leave at once. Until a route has answered,
// requests in one scope leave one at a time.
const GLOBAL_REQUESTS = { amount: 50, intervalMs: 1_000 }; // Discord: 50 requests/s per bot
/** Waits for @discordjs/rest's own global limit (a request it refused before sending it) before giving up. */
const GLOBAL_REFUSAL_RETRIES = 2;
const FALLBACK_RETRY_AFTER_MS = 1_000; // when a 429 carries no usable retry_after
const EPHEMERAL_FLAG = 1 << 6; // MessageFlags.Ephemeral
const DEFERRED_CHANNEL_MESSAGE = 5; // InteractionResponseType.DeferredChannelMessageWithSource
const THREAD_AUTO_ARCHIVE_MINUTES = 1440; // one day, available on every server
const THREAD_CREATE_RETRIES = 1;

/** How a reply's message is sent: SendOptions, plus components read as the request leaves. */
export interface MessageOptions extends SendOptions {
  components?: () => unknown[] | undefined;
}

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
        // Discord counts creating and editing messages in separate route buckets per channel.
        post: {},
        edit: {},
        // Thread creation shares a limit across the guild (429 scope "shared"), whatever the channel.
        thread: { maxConcurrent: 4 },
        // Typing and interaction acknowledgements must not wait behind a channel's edits.
        typing: {},
        ack: { maxConcurrent: 10 },
        commands: {},
      },
    };
    // Through the factory: shared across instances on Redis, and counted in the metrics.
    this.pacer = createPacer?.('discord', settings) ?? new Pacer(settings);
  }

  /**
   * Runs `call` through the pacer; `content` is resolved only as the request leaves. The
   * response's rate-limit headers tell the pacer when the scope may send next.
   */
  private send<T>(
    bucket: string,
    scope: string,
    method: string,
    priority: Priority,
    call: (rest: RequestSender) => Promise<Response>,
    o: ScheduleOptions = {},
  ): Promise<T> {
    return this.pacer.schedule(bucket, scope, () => this.request<T>(bucket, scope, method, call), priority, o);
  }

  /**
   * One request as it leaves the pacer: errors converted, the bucket's headers reported. Over the
   * global limit (@discordjs/rest counts it too, in a fixed one-second window, with requests the
   * pacer never saw) the request waits it out and goes again: the whole bot is held, not its scope.
   */
  private async request<T>(bucket: string, scope: string, method: string, call: (rest: RequestSender) => Promise<Response>): Promise<T> {
    let res: Response;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await call(senderOf(this.restOf()));
        break;
      } catch (err) {
        if (!(err instanceof RestRateLimitError && err.global) || attempt >= GLOBAL_REFUSAL_RETRIES) throw toPlatformError(method, err);
        await new Promise((r) => setTimeout(r, Math.max(err.retryAfter, 1)));
      }
    }
    const state = bucketState(res.headers);
    if (state) this.pacer.observe(bucket, scope, state);
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  /**
   * `first`: a reply's first words (they go before a busy channel's other writes, see Priority).
   * `components`, like `content`, is read as the request leaves (undefined: none sent).
   */
  createMessage(channelId: string, content: Content, o: MessageOptions & { replyTo?: string; first?: boolean }): Promise<ApiMessage> {
    return this.send(
      'post',
      channelId,
      'createMessage',
      o.final ? 'final' : o.first ? 'first' : 'normal',
      (rest) =>
        rest.post(Routes.channelMessages(channelId), {
          body: {
            content: toDiscordContent(resolveContent(content)),
            allowed_mentions: ALLOWED_MENTIONS,
            ...(o.replyTo ? { message_reference: { message_id: o.replyTo, fail_if_not_exists: false } } : {}),
            ...componentsOf(o),
          },
        }),
      { hurry: o.hurry },
    );
  }

  /** `hurry`: a progress edit that became the final one while it waited (SendOptions.hurry). Components as in createMessage. */
  editMessage(channelId: string, messageId: string, content: Content, o: MessageOptions): Promise<ApiMessage> {
    return this.send(
      'edit',
      channelId,
      'editMessage',
      priorityOf(o.final),
      (rest) =>
        rest.patch(Routes.channelMessage(channelId, messageId), {
          body: { content: toDiscordContent(resolveContent(content)), allowed_mentions: ALLOWED_MENTIONS, ...componentsOf(o) },
        }),
      { hurry: o.hurry },
    );
  }

  async deleteMessage(channelId: string, messageId: string): Promise<void> {
    await this.send('edit', channelId, 'deleteMessage', 'final', (rest) => rest.delete(Routes.channelMessage(channelId, messageId)));
  }

  /**
   * Optional: dropped when its turn comes if `wanted()` is false by then (the first words are
   * out: a late indicator would show "typing…" under the answer) or the global budget is half
   * spent (in a burst, 20 threads opening at once, the 50 requests a second are for first words).
   */
  async sendTyping(channelId: string, wanted?: () => boolean): Promise<void> {
    await this.pacer.scheduleOptional(
      'typing',
      channelId,
      () => this.request('typing', channelId, 'sendTyping', (rest) => rest.post(Routes.channelTyping(channelId))),
      wanted,
    );
  }

  /**
   * Keeps a request of the global budget for a reply's first words until `release` (the first
   * message is posted, or the reply ends without one): progress edits of other replies leave it
   * free, so the last asker of a crowd does not wait a second for the budget (Pacer.reserveGlobal).
   */
  reserveFirstWords(): () => void {
    return this.pacer.reserveGlobal();
  }

  /**
   * Counts a request discord.js made itself (GET /gateway/bot when the gateway connects) in the
   * global budget, as @discordjs/rest does: a burst just after connecting then stays within it.
   */
  async countClientRequest(): Promise<void> {
    await this.pacer.countGlobal();
  }

  /**
   * Starts a public thread on `messageId`; Discord gives the thread the message's id. Paced per
   * guild (Discord shares thread creation across a guild's channels); a 429 is waited out and
   * retried once, since the alternative (replying in a busy channel) is slower still.
   */
  startThread(guildId: string, channelId: string, messageId: string, name: string): Promise<{ id: string }> {
    return this.send(
      'thread',
      guildId,
      'startThread',
      'first',
      (rest) => rest.post(Routes.threads(channelId, messageId), { body: { name, auto_archive_duration: THREAD_AUTO_ARCHIVE_MINUTES } }),
      { retries: THREAD_CREATE_RETRIES },
    );
  }

  /** Acknowledges an interaction with "thinking…" (must happen within 3 s of its creation). */
  async deferInteraction(interactionId: string, token: string, ephemeral: boolean): Promise<void> {
    await this.send('ack', interactionId, 'deferReply', 'final', (rest) =>
      rest.post(Routes.interactionCallback(interactionId, token), {
        auth: false,
        body: { type: DEFERRED_CHANNEL_MESSAGE, data: { flags: ephemeral ? EPHEMERAL_FLAG : 0, allowed_mentions: ALLOWED_MENTIONS } },
      }),
    );
  }

  /** Edits the interaction's reply (`@original`) or one of its follow-ups. */
  editInteractionMessage(o: {
    applicationId: string;
    token: string;
    channelId: string;
    messageId: string;
    content: Content;
    final: boolean;
    hurry?: AbortSignal;
  }): Promise<ApiMessage> {
    return this.send(
      'edit',
      o.channelId,
      'editReply',
      priorityOf(o.final),
      (rest) =>
        rest.patch(Routes.webhookMessage(o.applicationId, o.token, o.messageId), {
          auth: false,
          body: { content: toDiscordContent(resolveContent(o.content)), allowed_mentions: ALLOWED_MENTIONS },
        }),
      { hurry: o.hurry },
    );
  }

  followUp(o: {
    applicationId: string;
    token: string;
    channelId: string;
    content: Content;
    final: boolean;
    ephemeral?: boolean;
    hurry?: AbortSignal;
  }): Promise<ApiMessage> {
    return this.send(
      'post',
      o.channelId,
      'followUp',
      priorityOf(o.final),
      (rest) =>
        rest.post(Routes.webhook(o.applicationId, o.token), {
          auth: false,
          body: { content: toDiscordContent(resolveContent(o.content)), allowed_mentions: ALLOWED_MENTIONS, ...(o.ephemeral ? { flags: EPHEMERAL_FLAG } : {}) },
        }),
      { hurry: o.hurry },
    );
  }

  async deleteInteractionMessage(o: { applicationId: string; token: string; channelId: string; messageId: string }): Promise<void> {
    await this.send('edit', o.channelId, 'deleteReply', 'final', (rest) =>
      rest.delete(Routes.webhookMessage(o.applicationId, o.token, o.messageId), { auth: false }),
    );
  }

  listCommands(applicationId: string, guildId?: string): Promise<(CommandSpec & { id: string })[]> {
    const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
    return this.send('commands', 'app', 'listCommands', 'normal', (rest) => rest.get(route));
  }

  /** Creates or overwrites one command by name (leaves the application's other commands alone, unlike PUT). */
  upsertCommand(applicationId: string, guildId: string | undefined, spec: CommandSpec): Promise<unknown> {
    const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
    return this.send('commands', 'app', 'upsertCommand', 'normal', (rest) => rest.post(route, { body: spec }));
  }

  /**
   * A standalone message (alerts, handoffs) that pings exactly `pingRole`, if given: the role
   * mention goes in front of the neutralised text and `allowed_mentions.roles` names only it.
   */
  announce(channelId: string, text: string, o: { pingRole?: string; components?: unknown[] } = {}): Promise<ApiMessage> {
    return this.send('post', channelId, 'createMessage', 'final', (rest) =>
      rest.post(Routes.channelMessages(channelId), {
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
    await this.send('edit', channelId, 'editMessage', 'final', (rest) =>
      rest.patch(Routes.channelMessage(channelId, messageId), { body: { components, allowed_mentions: ALLOWED_MENTIONS } }),
    );
  }

  /** Replaces the components of an interaction's reply (`@original`) or follow-up. */
  async setInteractionComponents(o: { applicationId: string; token: string; channelId: string; messageId: string; components: unknown[] }): Promise<void> {
    await this.send('edit', o.channelId, 'editReply', 'final', (rest) =>
      rest.patch(Routes.webhookMessage(o.applicationId, o.token, o.messageId), {
        auth: false,
        body: { components: o.components, allowed_mentions: ALLOWED_MENTIONS },
      }),
    );
  }

  /** Answers a component or modal interaction (acknowledge, open a modal, …) within its 3 s. */
  async interactionResponse(interactionId: string, token: string, body: { type: number; data?: Record<string, unknown> }): Promise<void> {
    await this.send('ack', interactionId, 'interactionResponse', 'final', (rest) =>
      rest.post(Routes.interactionCallback(interactionId, token), { auth: false, body }),
    );
  }

  stop(): Promise<void> {
    return this.pacer.stop();
  }
}

/** @discordjs/rest's verbs, answering the raw Response (its headers carry the bucket's state). */
interface RequestSender {
  get(route: RouteLike, o?: Omit<RequestData, 'body'>): Promise<Response>;
  post(route: RouteLike, o?: RequestData): Promise<Response>;
  patch(route: RouteLike, o?: RequestData): Promise<Response>;
  delete(route: RouteLike, o?: RequestData): Promise<Response>;
}

function senderOf(rest: REST): RequestSender {
  // queueRequest is what rest.get/post/… call before parsing the body; errors and 429s throw as before.
  const verb =
    (method: RequestMethod) =>
    (fullRoute: RouteLike, o: RequestData = {}) =>
      rest.queueRequest({ ...o, fullRoute, method }) as Promise<Response>;
  return { get: verb(RequestMethod.Get), post: verb(RequestMethod.Post), patch: verb(RequestMethod.Patch), delete: verb(RequestMethod.Delete) };
}

/** X-RateLimit-Remaining / X-RateLimit-Reset-After (seconds), when the route reports them. */
export function bucketState(headers: Headers): BucketState | undefined {
  const remaining = headers.get('x-ratelimit-remaining');
  const resetAfter = headers.get('x-ratelimit-reset-after');
  const limit = headers.get('x-ratelimit-limit');
  if (remaining === null || resetAfter === null) return undefined;
  return {
    remaining: Number(remaining),
    resetAfterMs: Number(resetAfter) * 1000,
    ...(limit !== null && Number.isFinite(Number(limit)) ? { limit: Number(limit) } : {}),
  };
}

function componentsOf(o: { components?: () => unknown[] | undefined }): { components?: unknown[] } {
  const components = o.components?.();
  return components ? { components } : {};
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
  if (err instanceof DiscordAPIError)
    return new PlatformError('discord', method, String(err.code), { cause: err, message: `discord ${method} failed: ${err.code} (HTTP ${err.status})` });
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
