/**
 * The fake Slack's workspace state: channels of messages with their edit history, users,
 * and the rules Slack applies to message text. Pure data, no HTTP.
 */

/** `chat.postMessage` / `chat.update` reject `text` longer than this with `msg_too_long`. */
export const MAX_TEXT_CHARS = 4_000;
/** `chat.appendStream` accepts `markdown_text` up to this length per call. */
export const MAX_STREAM_CHUNK_CHARS = 12_000;

export interface FakeMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  /** Who posted it: the bot's user id for bot messages. */
  user: string;
  /** Current text as the API received it (mrkdwn for post/update, Markdown for streams). */
  text: string;
  /** Every version of `text`, oldest first (the first is what was posted). */
  history: string[];
  format: 'mrkdwn' | 'markdown';
  /** True between chat.startStream and chat.stopStream (or expiry). */
  streaming: boolean;
  deleted: boolean;
  /** Stream recipient, as given to chat.startStream. */
  recipient?: { team?: string; user?: string };
  appendCount: number;
}

export interface FakeUser {
  id: string;
  name: string;
  real_name?: string;
  display_name?: string;
  is_bot?: boolean;
}

export class Workspace {
  readonly messages: FakeMessage[] = [];
  readonly users = new Map<string, FakeUser>();
  readonly channels = new Map<string, { id: string; name: string; is_im?: boolean }>();
  private tsCounter = 0;

  constructor(
    readonly teamId: string,
    readonly botUserId: string,
    readonly botId: string,
  ) {
    this.users.set(botUserId, { id: botUserId, name: 'parley', is_bot: true });
  }

  /** Unique, increasing Slack-style timestamps (`seconds.micro`). */
  nextTs(): string {
    this.tsCounter++;
    const seconds = Math.floor(Date.now() / 1000);
    return `${seconds}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  post(channel: string, user: string, text: string, opts: { thread_ts?: string; format?: 'mrkdwn' | 'markdown'; streaming?: boolean } = {}): FakeMessage {
    const m: FakeMessage = {
      channel,
      ts: this.nextTs(),
      thread_ts: opts.thread_ts,
      user,
      text,
      history: [text],
      format: opts.format ?? 'mrkdwn',
      streaming: opts.streaming ?? false,
      deleted: false,
      appendCount: 0,
    };
    this.messages.push(m);
    return m;
  }

  find(channel: string, ts: string): FakeMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
  }

  setText(m: FakeMessage, text: string): void {
    m.text = text;
    m.history.push(text);
  }

  /** Messages in a thread (replies only, oldest first), excluding deleted ones. */
  thread(channel: string, threadTs: string): FakeMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.thread_ts === threadTs && !m.deleted);
  }

  /** Messages the bot posted, in a channel (and thread if given). */
  botMessages(channel?: string, threadTs?: string): FakeMessage[] {
    return this.messages.filter(
      (m) => m.user === this.botUserId && !m.deleted && (!channel || m.channel === channel) && (!threadTs || m.thread_ts === threadTs),
    );
  }
}
