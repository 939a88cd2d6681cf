import { newId } from '../../kernel/strings.js';
import type { Writable } from 'node:stream';
import type { Deliver, FinalReply, MessageRef, NativeStream, PlatformAdapter, ReplySurface } from '../../kernel/adapter.js';
import { resolveContent } from '../../kernel/adapter.js';
import type { IncomingMessage } from '../../kernel/types.js';
import { withCitations } from '../../knowledge/citations.js';
import { BlockRenderer, type RenderMarkdown } from './markdown.js';

export interface ConsoleOptions {
  /** Where answers are written (stdout for `parley ask` and `parley chat`). */
  output: Writable;
  /** Conversation name: the same name continues the same history across runs. */
  thread: string;
  user?: string;
  /** Renders answers' Markdown for a terminal (`parley chat` on a TTY); without it, answers are written as they are. */
  markdown?: RenderMarkdown;
}

/**
 * The terminal as a platform: messages come from the CLI (`submit`), answers stream to
 * `output` as the model writes them (the terminal's "native stream": it can append, not edit).
 */
export class ConsoleAdapter implements PlatformAdapter {
  readonly platform = 'console';
  private deliverTo?: Deliver;

  constructor(private readonly o: ConsoleOptions) {}

  async start(deliver: Deliver): Promise<void> {
    this.deliverTo = deliver;
  }

  async stop(): Promise<void> {
    this.deliverTo = undefined;
  }

  /** Builds the normalized message for `text`, as typed by the local user. */
  message(text: string): IncomingMessage {
    const id = newId();
    return {
      platform: 'console',
      workspace: 'local',
      channel: 'terminal',
      thread: this.o.thread,
      id,
      user: { id: this.o.user ?? 'local-user', name: this.o.user ?? 'you' },
      text,
      attachments: [],
      trigger: 'direct_message',
      receivedAt: Date.now(),
    };
  }

  async submit(text: string): Promise<void> {
    if (!this.deliverTo) throw new Error('console adapter not started');
    await this.deliverTo(this.message(text));
  }

  async openReply(): Promise<ReplySurface> {
    return new ConsoleSurface(this.o.output, this.o.markdown ? new BlockRenderer(this.o.markdown) : undefined);
  }
}

class ConsoleSurface implements ReplySurface {
  readonly maxLength = Number.MAX_SAFE_INTEGER;
  private written = '';
  constructor(
    private readonly out: Writable,
    private readonly blocks?: BlockRenderer,
  ) {}

  async post(content: Parameters<ReplySurface['post']>[0]): Promise<MessageRef> {
    this.write(resolveContent(content));
    return { id: 'console' };
  }

  async edit(_ref: MessageRef, content: Parameters<ReplySurface['edit']>[1]): Promise<void> {
    this.write(resolveContent(content));
  }

  async openStream(): Promise<NativeStream> {
    return {
      maxLength: Number.MAX_SAFE_INTEGER,
      ref: { id: 'console' },
      append: async (text: string) => this.write(this.written + text),
      stop: async (finalText: string) => this.write(finalText),
    };
  }

  async notify(text: string): Promise<void> {
    this.out.write(`${text}\n`);
  }

  /** Sources as a plain-text list under the answer. */
  decorate(final: FinalReply): string {
    return withCitations(final.text, final.citations, 'plain');
  }

  async complete(final: FinalReply): Promise<void> {
    if (this.blocks) this.out.write(this.blocks.finish());
    else if (!final.text.endsWith('\n')) this.out.write('\n');
  }

  /** A terminal can only append: write what extends the shown text, or the whole text again if it changed. */
  private write(text: string): void {
    if (this.blocks) this.out.write(this.blocks.update(text));
    else if (text.startsWith(this.written)) this.out.write(text.slice(this.written.length));
    else this.out.write(`\n${text}`);
    this.written = text;
  }
}
