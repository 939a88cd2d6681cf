import type { Content, FinalReply, MessageRef, ReplySurface, SendOptions } from '../../kernel/adapter.js';
import type { Logger } from '../../kernel/logger.js';
import { withCitations } from '../../knowledge/citations.js';
import { PlatformError, describe } from '../../kernel/errors.js';
import { DiscordCode, type DiscordApi } from './api.js';
import { MESSAGE_MAX_CHARS } from './format.js';
import type { ConversationLinks, ConversationRef } from './links.js';
import type { ReplyPlan } from './parse.js';
import { answerActions, attachAnswerActions, type AnswerActionsDeps } from './feedback.js';

const TYPING_REFRESH_MS = 8_000; // Discord shows "typing…" for ~10 s per request
const INTERACTION_TOKEN_TTL_MS = 15 * 60_000; // interaction tokens work for 15 minutes
const TOKEN_SAFETY_MARGIN_MS = 30_000; // switch to channel messages a little before the token dies

interface SurfaceDeps {
  api: DiscordApi;
  links: ConversationLinks;
  log: Logger;
  conversation: ConversationRef;
  /** Feedback buttons on the finished answer (absent: none). */
  actions?: Omit<AnswerActionsDeps, 'log'>;
  /** Called once the answer is complete (the channel's budget is free for the next reply). */
  onComplete?: () => void;
  /** Counts a reply written in the channel after all (a thread could not be opened); returns its end. */
  beginChannelReply?: () => () => void;
  /** A new reply: keeps global budget for its first words until they are posted (DiscordApi.reserveFirstWords). */
  awaitsFirstWords?: boolean;
}

/**
 * An answer written as channel messages: a reply to the question (reply mode), messages in
 * a thread the bot opens on the question (thread mode), in a thread, or in a DM. Content
 * passes to api.ts as a function, so queued requests send the newest text.
 */
export class ChannelSurface implements ReplySurface {
  readonly maxLength = MESSAGE_MAX_CHARS; // formatting keeps length (format.ts), so the full limit is usable
  private target?: Promise<{ channelId: string; replyTo?: string }>;
  private resolvedChannel?: string;
  private typingTimer?: NodeJS.Timeout;
  private posted = 0;
  /** A first message is on its way: a typing indicator is no longer wanted. */
  private writing = false;
  private done = false;
  private release?: () => void;
  private readonly firstWordsOut: () => void;
  /** The finished answer's buttons (known once the renderer decorates the final text). */
  private buttons?: unknown[];
  /** The message that got them with its final text (no separate edit needed). */
  private buttonsOn?: string;

  constructor(
    private readonly plan: Extract<ReplyPlan, { kind: 'channel' }>,
    private readonly d: SurfaceDeps,
  ) {
    this.firstWordsOut = d.awaitsFirstWords ? d.api.reserveFirstWords() : () => undefined;
  }

  /** Where messages go; in thread mode the thread is opened on first use. */
  private resolveTarget(): Promise<{ channelId: string; replyTo?: string }> {
    this.target ??= (async () => {
      const start = this.plan.startThread;
      if (start) {
        try {
          const thread = await this.d.api.startThread(start.guildId, start.channelId, start.messageId, start.name);
          await this.d.links.markThread(thread.id);
          return { channelId: thread.id };
        } catch (err) {
          // Missing "Create Public Threads" (50013), no access (50001), or the message already has a thread: reply instead.
          this.d.log.warn({ err: describe(err) }, 'could not open a thread; replying in the channel');
          this.release = this.d.beginChannelReply?.();
          return { channelId: start.channelId, replyTo: start.messageId };
        }
      }
      if (this.plan.inThread) await this.d.links.markThread(this.plan.channelId);
      return { channelId: this.plan.channelId, replyTo: this.plan.replyTo };
    })().then((t) => {
      this.resolvedChannel = t.channelId;
      return t;
    });
    return this.target;
  }

  /** Sources as a compact Markdown footer (links in <…> so they do not unfurl). */
  decorate(final: FinalReply): string {
    this.buttons = this.d.actions && answerActions(this.d.actions, final);
    return withCitations(final.text, final.citations, 'discord');
  }

  /**
   * The answer's buttons for a request that, when it leaves, carries the end of the final text
   * (SendOptions.last): they go out with it instead of in one more edit of the channel's budget.
   */
  private buttonsWith(options: SendOptions): { components: () => unknown[] | undefined; sent: () => boolean } {
    let sent = false;
    return {
      components: () => {
        sent = this.buttons !== undefined && options.last?.() === true;
        return sent ? this.buttons : undefined;
      },
      sent: () => sent,
    };
  }

  /** Where the reply lives, for finishing it after a restart (see resumeSurface). */
  describe(): ResumableReply | undefined {
    return this.resolvedChannel ? { kind: 'channel', channelId: this.resolvedChannel, conversation: this.d.conversation } : undefined;
  }

  async showTyping(): Promise<void> {
    const { channelId } = await this.resolveTarget();
    const tick = async () => {
      if (this.posted > 0 || this.done) return;
      try {
        await this.d.api.sendTyping(channelId, () => !this.writing && !this.done);
      } catch (err) {
        this.d.log.debug({ err: describe(err) }, 'typing indicator failed');
      }
      if (this.posted === 0 && !this.done) {
        this.typingTimer = setTimeout(() => void tick(), TYPING_REFRESH_MS);
        this.typingTimer.unref?.();
      }
    };
    await tick();
  }

  async post(content: Content, options: SendOptions): Promise<MessageRef> {
    const { channelId, replyTo } = await this.resolveTarget();
    // Only the first message replies to the question; continuations follow it.
    const first = this.posted === 0;
    this.writing = true;
    const buttons = this.buttonsWith(options);
    const m = await this.d.links.track(
      (async () => {
        const sent = await this.d.api.createMessage(channelId, content, {
          ...options,
          replyTo: first ? replyTo : undefined,
          first,
          components: buttons.components,
        });
        this.firstWordsOut();
        if (buttons.sent()) this.buttonsOn = sent.id;
        await this.d.links.recordBotMessage(sent.id, this.d.conversation);
        return sent;
      })(),
    );
    this.posted++;
    clearTimeout(this.typingTimer);
    return { id: m.id };
  }

  async edit(ref: MessageRef, content: Content, options: SendOptions): Promise<void> {
    const { channelId } = await this.resolveTarget();
    const buttons = this.buttonsWith(options);
    await this.d.api.editMessage(channelId, ref.id, content, { ...options, components: buttons.components });
    if (buttons.sent()) this.buttonsOn = ref.id;
  }

  async remove(ref: MessageRef): Promise<void> {
    const { channelId } = await this.resolveTarget();
    await this.d.api.deleteMessage(channelId, ref.id);
  }

  async complete(final?: FinalReply, refs: MessageRef[] = []): Promise<void> {
    this.done = true;
    this.firstWordsOut();
    this.d.onComplete?.();
    this.release?.();
    clearTimeout(this.typingTimer);
    if (final && this.d.actions)
      await attachAnswerActions(
        { ...this.d.actions, log: this.d.log },
        final,
        refs,
        async (ref, components) => this.d.api.setComponents((await this.resolveTarget()).channelId, ref.id, components),
        this.buttonsOn,
      );
  }
}

type Placed = { via: 'interaction'; messageId: string } | { via: 'channel'; messageId: string };

/** JSON a reply surface describes itself with, so another process can finish the reply. */
export type ResumableReply =
  | { kind: 'channel'; channelId: string; conversation: ConversationRef }
  | {
      kind: 'interaction';
      plan: Extract<ReplyPlan, { kind: 'interaction' }>;
      applicationId: string;
      placed: [string, Placed][];
      originalUsed: boolean;
      conversation: ConversationRef;
    };

/** Reopens a described reply (crash recovery): the messages are edited in place. */
export function resumeSurface(r: ResumableReply, d: Omit<SurfaceDeps, 'conversation'>): ReplySurface {
  const deps = { ...d, conversation: r.conversation };
  if (r.kind === 'interaction') return new InteractionSurface(r.plan, r.applicationId, deps).restore(r);
  return new ChannelSurface({ kind: 'channel', channelId: r.channelId, inThread: false }, deps);
}

/**
 * An answer to `/ask`: the deferred reply ("thinking…", already sent) is edited with the
 * answer, continuations are follow-ups. Once the interaction token expires (15 minutes, or
 * Discord says 50027), the answer continues as plain channel messages: a message that can no
 * longer be edited is re-posted in the channel and later edits go to that copy.
 */
export class InteractionSurface implements ReplySurface {
  readonly maxLength = MESSAGE_MAX_CHARS;
  private originalUsed = false;
  private expired = false;
  private readonly placed = new Map<string, Placed>();

  constructor(
    private readonly plan: Extract<ReplyPlan, { kind: 'interaction' }>,
    private readonly applicationId: string,
    private readonly d: SurfaceDeps,
  ) {}

  private tokenAlive(): boolean {
    if (Date.now() - this.plan.createdAt > INTERACTION_TOKEN_TTL_MS - TOKEN_SAFETY_MARGIN_MS) this.expired = true;
    return !this.expired;
  }

  /** Runs a webhook call; on an expired token, marks the surface expired and returns undefined. */
  private async viaToken<T>(call: () => Promise<T>): Promise<T | undefined> {
    if (!this.tokenAlive()) return undefined;
    try {
      return await call();
    } catch (err) {
      if (err instanceof PlatformError && (err.platformCode === DiscordCode.invalidWebhookToken || err.platformCode === DiscordCode.unknownWebhook)) {
        this.d.log.info('interaction token expired; continuing with channel messages');
        this.expired = true;
        return undefined;
      }
      throw err;
    }
  }

  private postInChannel(content: Content, final: boolean): Promise<string> {
    return this.d.links.track(
      (async () => {
        const m = await this.d.api.createMessage(this.plan.channelId, content, { final });
        await this.d.links.recordBotMessage(m.id, this.d.conversation);
        return m.id;
      })(),
    );
  }

  async post(content: Content, options: SendOptions): Promise<MessageRef> {
    const common = {
      applicationId: this.applicationId,
      token: this.plan.token,
      channelId: this.plan.channelId,
      content,
      final: options.final,
      hurry: options.hurry,
    };
    const first = !this.originalUsed;
    const sent = await this.d.links.track(
      (async () => {
        const m = await this.viaToken(() => (first ? this.d.api.editInteractionMessage({ ...common, messageId: '@original' }) : this.d.api.followUp(common)));
        if (m) await this.d.links.recordBotMessage(m.id, this.d.conversation);
        return m;
      })(),
    );
    if (sent) {
      if (first) this.originalUsed = true;
      this.placed.set(sent.id, { via: 'interaction', messageId: first ? '@original' : sent.id });
      return { id: sent.id };
    }
    const id = await this.postInChannel(content, options.final);
    this.placed.set(id, { via: 'channel', messageId: id });
    return { id };
  }

  async edit(ref: MessageRef, content: Content, options: SendOptions): Promise<void> {
    const place = this.placed.get(ref.id) ?? { via: 'interaction', messageId: ref.id };
    if (place.via === 'channel') {
      await this.d.api.editMessage(this.plan.channelId, place.messageId, content, options);
      return;
    }
    const done = await this.viaToken(() =>
      this.d.api.editInteractionMessage({
        applicationId: this.applicationId,
        token: this.plan.token,
        channelId: this.plan.channelId,
        messageId: place.messageId,
        content,
        final: options.final,
        hurry: options.hurry,
      }),
    );
    if (done) return;
    // The token died: the message keeps its last text; the answer continues in a channel copy.
    const id = await this.postInChannel(content, options.final);
    this.placed.set(ref.id, { via: 'channel', messageId: id });
  }

  async remove(ref: MessageRef): Promise<void> {
    const place = this.placed.get(ref.id) ?? { via: 'interaction', messageId: ref.id };
    if (place.via === 'channel') return this.d.api.deleteMessage(this.plan.channelId, place.messageId);
    await this.viaToken(() =>
      this.d.api.deleteInteractionMessage({
        applicationId: this.applicationId,
        token: this.plan.token,
        channelId: this.plan.channelId,
        messageId: place.messageId,
      }),
    );
  }

  /** The deferred reply already shows "Parley is thinking…". */
  async showTyping(): Promise<void> {}

  /** Puts the feedback buttons on the answer's last message (through the token while it lives). */
  async complete(final: FinalReply, refs: MessageRef[]): Promise<void> {
    if (!this.d.actions) return;
    await attachAnswerActions({ ...this.d.actions, log: this.d.log }, final, refs, async (ref, components) => {
      const place = this.placed.get(ref.id) ?? { via: 'interaction', messageId: ref.id };
      if (place.via === 'channel') return this.d.api.setComponents(this.plan.channelId, place.messageId, components);
      const done = await this.viaToken(() =>
        this.d.api.setInteractionComponents({
          applicationId: this.applicationId,
          token: this.plan.token,
          channelId: this.plan.channelId,
          messageId: place.messageId,
          components,
        }),
      );
      if (done === undefined && this.expired) this.d.log.info('interaction token expired; the answer keeps no feedback buttons');
    });
  }

  decorate(final: FinalReply): string {
    return withCitations(final.text, final.citations, 'discord');
  }

  describe(): ResumableReply {
    return {
      kind: 'interaction',
      plan: this.plan,
      applicationId: this.applicationId,
      placed: [...this.placed],
      originalUsed: this.originalUsed,
      conversation: this.d.conversation,
    };
  }

  /** Restores what a previous process knew of its messages. */
  restore(r: Extract<ResumableReply, { kind: 'interaction' }>): this {
    for (const [id, place] of r.placed) this.placed.set(id, place);
    this.originalUsed = r.originalUsed;
    return this;
  }

  /** A note only the asker sees (an ephemeral follow-up); dropped once the token expired. */
  async notify(text: string): Promise<void> {
    await this.viaToken(() =>
      this.d.api.followUp({
        applicationId: this.applicationId,
        token: this.plan.token,
        channelId: this.plan.channelId,
        content: text,
        final: true,
        ephemeral: true,
      }),
    );
  }
}
