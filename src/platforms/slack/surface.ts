import {
  RATEABLE_SOURCES,
  resolveContent,
  type Content,
  type FinalReply,
  type MessageRef,
  type NativeStream,
  type ReplySurface,
  type SendOptions,
} from '../../kernel/adapter.js';
import { PlatformError, StreamUnavailableError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { RESPONSE_URL_MAX_USES, slackErrorCode, type SlackApi } from './api.js';
import { messageMrkdwn } from './format.js';
import { withCitations } from '../../knowledge/citations.js';
import { SlackNativeStream, STREAM_MAX_LENGTH, type StreamTarget } from './stream.js';
import { postFeedbackPrompt } from './feedback.js';

/** Source characters per message: mrkdwn conversion (escaping `&<>`, link syntax) grows text, so leave a margin. */
export const REPLY_MAX_LENGTH = STREAM_MAX_LENGTH;
/** What the assistant "thinking" status says (assistant.threads.setStatus, cleared by Slack on reply). */
export const THINKING_STATUS = 'is thinking…';

/** Content → the `text` Slack gets, read when the request leaves the pacer. */
function messageText(content: Content): string {
  return messageMrkdwn(resolveContent(content));
}

/**
 * An answer in a thread (a channel thread, a DM, or the assistant panel): native stream when
 * Slack allows it, post/update otherwise, the "thinking" status, and private notes to the asker.
 */
export class ThreadSurface implements ReplySurface {
  readonly maxLength = REPLY_MAX_LENGTH;

  constructor(
    private readonly api: SlackApi,
    private readonly target: StreamTarget,
    private readonly log: Logger,
    /** Feedback buttons for the finished answer (absent: none); `remember` maps its messages to it, for reactions. */
    private readonly actions?: { answerId: string; remember?: (refs: MessageRef[]) => Promise<void> },
  ) {}

  /** Offers 👍/👎/Talk to a human to the asker (an ephemeral message in the thread). */
  async complete(final: FinalReply, refs: MessageRef[]): Promise<void> {
    if (!this.actions || final.silent) return;
    if (RATEABLE_SOURCES.has(final.source))
      await this.actions.remember?.(refs).catch((err) => this.log.warn({ err }, 'remembering the answer for reactions failed'));
    await postFeedbackPrompt(this.api, this.target, this.actions.answerId, final, refs, this.log);
  }

  async post(content: Content, options: SendOptions): Promise<MessageRef> {
    const { channel, threadTs } = this.target;
    const res = await this.api.call<{ ts: string }>(
      'chat.postMessage',
      () => ({ channel, thread_ts: threadTs, text: messageText(content), unfurl_links: false, unfurl_media: false }),
      { bucket: 'post', scope: channel, priority: options.final ? 'final' : 'normal' },
    );
    return { id: res.ts };
  }

  async edit(ref: MessageRef, content: Content, options: SendOptions): Promise<void> {
    const update = () =>
      this.api.call('chat.update', () => ({ channel: this.target.channel, ts: ref.id, text: messageText(content) }), {
        bucket: 'update',
        scope: this.target.team,
        priority: options.final ? 'final' : 'progress',
      });
    try {
      await update();
    } catch (err) {
      if (slackErrorCode(err) !== 'streaming_state_conflict') throw err;
      // Slack still has the message in streaming state: a lost stream whose stopStream failed, or
      // one a previous process opened (a reply resumed after a restart). Stop it by its ts, then update.
      await this.stopStreaming(ref);
      await update();
    }
  }

  private async stopStreaming(ref: MessageRef): Promise<void> {
    try {
      await this.api.call('chat.stopStream', () => ({ channel: this.target.channel, ts: ref.id }), {
        bucket: 'streamStop',
        scope: this.target.team,
        priority: 'final',
      });
    } catch (err) {
      // Ended meanwhile (stopped, or expired): the update can go ahead. Anything else: the caller retries the edit.
      if (slackErrorCode(err) !== 'message_not_in_streaming_state') throw err;
    }
  }

  /** Where the reply lives, for finishing it after a restart. */
  describe(): ResumableSlackReply {
    return { kind: 'thread', target: this.target };
  }

  /** Sources as a Markdown footer; the mrkdwn conversion turns it into native links. */
  decorate(final: FinalReply): string {
    return withCitations(final.text, final.citations, 'markdown');
  }

  async remove(ref: MessageRef): Promise<void> {
    await this.api.call('chat.delete', () => ({ channel: this.target.channel, ts: ref.id }), { bucket: 'misc', scope: this.target.team });
  }

  async showTyping(): Promise<void> {
    try {
      await this.api.call(
        'assistant.threads.setStatus',
        () => ({ channel_id: this.target.channel, thread_ts: this.target.threadTs, status: THINKING_STATUS }),
        { bucket: 'misc', scope: this.target.team, retryRateLimited: false },
      );
    } catch (err) {
      // Apps without the assistant feature cannot set a status; the answer matters, not the indicator.
      this.log.debug({ code: slackErrorCode(err) }, 'slack setStatus failed');
    }
  }

  async openStream(): Promise<NativeStream> {
    // chat.startStream is Tier 2 (~20 a minute per workspace): with many answers at once, waiting
    // for it would show nothing for a minute. Post and edit instead when the budget is spent.
    if (!(await this.api.pacer.tryTake('streamStart', this.target.team))) {
      throw new StreamUnavailableError('chat.startStream budget spent for this workspace');
    }
    return new SlackNativeStream(this.api, this.target, this.log);
  }

  async notify(text: string): Promise<void> {
    await this.api.call(
      'chat.postEphemeral',
      () => ({ channel: this.target.channel, user: this.target.recipientUser, thread_ts: this.target.threadTs, text: messageText(text) }),
      { bucket: 'misc', scope: this.target.team },
    );
  }
}

/**
 * A private answer to `/ask private …`, through the command's `response_url`. It allows only 5
 * posts in 30 minutes, so progress edits are not sent: the first post is the placeholder (the
 * beginning of the answer), the final edit (or `complete`, if the last progress text was
 * already the final one) replaces it.
 */
/** JSON a Slack reply surface describes itself with, so another process can finish the reply. */
export type ResumableSlackReply = { kind: 'thread'; target: StreamTarget } | { kind: 'response_url'; url: string; first?: string };

export class ResponseUrlSurface implements ReplySurface {
  readonly maxLength = REPLY_MAX_LENGTH;
  private uses = 0;
  private first?: string;
  /** Per message: the text Slack shows, and the newest text the renderer believes is shown. */
  private readonly texts = new Map<string, { sent: string; latest: string }>();

  constructor(
    private readonly api: SlackApi,
    private readonly responseUrl: string,
  ) {}

  async post(content: Content, options: SendOptions): Promise<MessageRef> {
    const id = `response-${this.uses + 1}`;
    const text = messageText(content);
    await this.send({ response_type: 'ephemeral', replace_original: false, text }, options.final);
    this.first ??= id;
    this.texts.set(id, { sent: text, latest: text });
    return { id };
  }

  async edit(ref: MessageRef, content: Content, options: SendOptions): Promise<void> {
    // Reading the content tells the renderer this text is handled; `complete` sends it if no final edit does.
    const text = messageText(content);
    const entry = this.texts.get(ref.id) ?? { sent: '', latest: text };
    entry.latest = text;
    this.texts.set(ref.id, entry);
    if (!options.final || entry.sent === text) return;
    await this.replace(ref.id, text);
  }

  async complete(_final: FinalReply, refs: MessageRef[]): Promise<void> {
    for (const ref of refs) {
      const entry = this.texts.get(ref.id);
      if (entry && entry.sent !== entry.latest) await this.replace(ref.id, entry.latest);
    }
  }

  async notify(text: string): Promise<void> {
    await this.send({ response_type: 'ephemeral', replace_original: false, text: messageText(text) }, true);
  }

  describe(): ResumableSlackReply {
    return { kind: 'response_url', url: this.responseUrl, first: this.first };
  }

  decorate(final: FinalReply): string {
    return withCitations(final.text, final.citations, 'markdown');
  }

  /** After a restart: the first message can still be replaced through the URL. */
  resume(first: string | undefined): this {
    this.first = first;
    return this;
  }

  private async replace(id: string, text: string): Promise<void> {
    // Only the first message can be replaced through response_url; a later part is posted anew.
    await this.send({ response_type: 'ephemeral', replace_original: id === this.first, text }, true);
    this.texts.set(id, { sent: text, latest: text });
  }

  private async send(body: Record<string, unknown>, final: boolean): Promise<void> {
    if (this.uses >= RESPONSE_URL_MAX_USES) throw new PlatformError('slack', 'response_url', 'used_url');
    this.uses++;
    await this.api.respond(this.responseUrl, body, final ? 'final' : 'normal');
  }
}
