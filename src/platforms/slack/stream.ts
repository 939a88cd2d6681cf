import { StreamUnavailableError } from '../../kernel/errors.js';
import type { MessageRef, NativeStream } from '../../kernel/adapter.js';
import type { Logger } from '../../kernel/logger.js';
import { slackErrorCode, type SlackApi } from './api.js';
import { messageMrkdwn, neutraliseMarkdown } from './format.js';

/** Longest answer part one streamed message holds; the renderer continues in a new message beyond it.
 * Kept under chat.update's 4,000-character `text` limit, so the same message can always be
 * finished with chat.update (mrkdwn conversion can grow the text a little). */
export const STREAM_MAX_LENGTH = 3_000;

export interface StreamTarget {
  team: string;
  channel: string;
  threadTs: string;
  /** Who the streamed answer is for: Slack requires it outside DMs. */
  recipientUser: string;
  recipientTeam: string;
}

/**
 * Slack's native streaming (chat.startStream / appendStream / stopStream) for one message.
 * Deltas are coalesced: one request in flight, and the text sent is read when the request
 * leaves the pacer. `sent` is exactly what Slack has accepted, so after any failure the
 * renderer can finish the message with chat.update without losing or repeating text.
 */
export class SlackNativeStream implements NativeStream {
  readonly maxLength = STREAM_MAX_LENGTH;
  private ts?: string;
  /** The Markdown the model produced so far (not yet neutralised). */
  private source = '';
  /** The neutralised Markdown Slack has accepted. */
  private sent = '';
  private chain: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;
  private failure?: StreamUnavailableError;
  private stopped = false;

  constructor(
    private readonly api: SlackApi,
    private readonly target: StreamTarget,
    private readonly log: Logger,
  ) {}

  get ref(): MessageRef | undefined {
    return this.ts ? { id: this.ts } : undefined;
  }

  append(text: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.source += text;
    if (!this.queued) {
      const next = this.chain.then(() => {
        this.queued = undefined;
        return this.flush();
      });
      this.queued = next;
      this.chain = next.catch(() => {});
    }
    return this.queued;
  }

  async stop(finalText: string): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
    const final = neutraliseMarkdown(finalText);
    const stopCall = { bucket: 'streamStop' as const, scope: this.target.team, priority: 'final' as const };
    try {
      if (!this.ts) {
        if (!final) return;
        await this.start(final);
      }
      const rest = final.startsWith(this.sent) ? final.slice(this.sent.length) : undefined;
      await this.api.call('chat.stopStream', () => ({ channel: this.target.channel, ts: this.ts, ...(rest ? { markdown_text: rest } : {}) }), stopCall);
      this.stopped = true;
      if (rest !== undefined) {
        this.sent = final;
        return;
      }
      // The final text is not a continuation of what was streamed (the renderer rewrote it): replace it.
      await this.api.call('chat.update', () => ({ channel: this.target.channel, ts: this.ts, text: messageMrkdwn(finalText) }), {
        bucket: 'update',
        scope: this.target.team,
        priority: 'final',
      });
    } catch (err) {
      throw await this.fail(err);
    }
  }

  /**
   * After a failure: tries once to end Slack's streaming state, so the message stops showing as
   * streaming before the renderer edits it. If this fails too, the surface's `edit` stops the
   * stream by its ts when chat.update reports `streaming_state_conflict`.
   */
  private async close(): Promise<void> {
    if (this.ts === undefined || this.stopped) return;
    this.stopped = true;
    try {
      await this.api.call('chat.stopStream', () => ({ channel: this.target.channel, ts: this.ts }), {
        bucket: 'streamStop',
        scope: this.target.team,
        priority: 'final',
      });
    } catch (err) {
      // An expired stream is already closed; anything else is left to the surface's edit (see above).
      this.log.debug({ code: slackErrorCode(err) }, 'slack stopStream while closing failed');
    }
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    // Text only grows and flushes run one at a time, so what is pending now is still pending when
    // the request leaves the pacer (possibly with more); empty means an earlier flush took it.
    if (this.pendingText() === '') return;
    try {
      if (!this.ts) {
        await this.start();
        return;
      }
      let chunk = '';
      await this.api.call(
        'chat.appendStream',
        () => {
          chunk = this.pendingText();
          return { channel: this.target.channel, ts: this.ts, markdown_text: chunk };
        },
        { bucket: 'append', scope: this.target.team, priority: 'progress' },
      );
      this.sent += chunk;
    } catch (err) {
      throw await this.fail(err);
    }
  }

  /** The neutralised text not yet accepted by Slack (neutralising is prefix-stable). */
  private pendingText(): string {
    const all = neutraliseMarkdown(this.source);
    return all.startsWith(this.sent) ? all.slice(this.sent.length) : '';
  }

  private async start(text?: string): Promise<void> {
    let chunk = '';
    const res = await this.api.call<{ ts?: string }>(
      'chat.startStream',
      () => {
        chunk = text ?? this.pendingText();
        return {
          channel: this.target.channel,
          thread_ts: this.target.threadTs,
          recipient_user_id: this.target.recipientUser,
          recipient_team_id: this.target.recipientTeam,
          ...(chunk ? { markdown_text: chunk } : {}),
        };
      },
      { bucket: 'streamStart', scope: this.target.team, priority: 'normal' },
    );
    if (!res.ts) throw new StreamUnavailableError('chat.startStream returned no ts');
    this.ts = res.ts;
    this.sent = chunk;
  }

  /** Records the failure, closes Slack's streaming state if needed, and returns the error to throw. */
  private async fail(err: unknown): Promise<StreamUnavailableError> {
    if (err instanceof StreamUnavailableError) {
      this.failure = err;
      return err;
    }
    const code = slackErrorCode(err) ?? (err instanceof Error ? err.name : 'unknown');
    this.log.info({ code, streamed: this.ts !== undefined }, 'slack native stream unavailable; falling back to post/update');
    this.failure = new StreamUnavailableError(code, { cause: err });
    if (code === 'message_not_in_streaming_state') this.stopped = true;
    else await this.close();
    return this.failure;
  }
}
