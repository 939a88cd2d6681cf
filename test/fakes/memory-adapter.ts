import type { Deliver, PlatformAdapter, ReplySurface } from '../../src/kernel/adapter.js';
import type { IncomingMessage } from '../../src/kernel/types.js';
import { MemoryChat, type MemoryChatOptions } from './memory-chat.js';

/** A platform adapter over MemoryChat: each reply is its own chat, kept by message id. */
export class MemoryAdapter implements PlatformAdapter {
  readonly platform = 'memory';
  readonly replies = new Map<string, MemoryChat>();
  private seq = 0;
  deliver?: Deliver;

  constructor(private readonly chatOptions: MemoryChatOptions = {}) {}

  async start(deliver: Deliver): Promise<void> {
    this.deliver = deliver;
  }
  async stop(): Promise<void> {
    this.deliver = undefined;
  }
  async openReply(message: IncomingMessage): Promise<ReplySurface> {
    const chat = new MemoryChat(this.chatOptions);
    this.replies.set(message.id, chat);
    return chat.surface();
  }

  message(text: string, where: Partial<IncomingMessage> = {}): IncomingMessage {
    const id = `m${++this.seq}`;
    return {
      platform: 'memory',
      workspace: 'W1',
      channel: 'C1',
      thread: 'T1',
      id,
      user: { id: 'U1' },
      text,
      attachments: [],
      trigger: 'mention',
      receivedAt: Date.now(),
      ...where,
    };
  }

  /** The final visible text of the reply to message `id`. */
  shown(id: string): string {
    return this.replies.get(id)?.visible().join('\n') ?? '';
  }
}
