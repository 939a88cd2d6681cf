import type { Content, MessageRef, NativeStream, ReplySurface, SendOptions, FinalReply } from '../../src/kernel/adapter.js';
import { resolveContent } from '../../src/kernel/adapter.js';
import { RateLimitError, StreamUnavailableError, PlatformError } from '../../src/kernel/errors.js';
import { Pacer } from '../../src/pacing/pacer.js';

/**
 * An in-process chat "platform" for renderer and engine tests: messages with edit history,
 * request latency, a real Pacer in front, and failures injected on demand. Behaves like a
 * platform client (slow, rate limited, sometimes failing), not like a mock of one.
 */
export interface MemoryChatOptions {
  maxLength?: number;
  /** Time each request takes once it leaves the pacer. */
  latencyMs?: number;
  /** Pacing per reply: minimum ms between requests. */
  minTimeMs?: number;
  /** Offer a native stream. */
  native?: boolean;
}

export interface ChatMessage {
  id: string;
  text: string;
  /** Every text the message showed, in order. */
  versions: string[];
  removed?: boolean;
}

export class MemoryChat {
  readonly messages: ChatMessage[] = [];
  readonly requests: { op: string; final?: boolean; at: number }[] = [];
  /** Failures for the next requests of an operation: 'rate' (429) or 'error'. */
  readonly failNext: Record<string, ('rate' | 'error')[]> = {};
  /** When set, the native stream fails on the Nth append (1-based) / refuses to open. */
  streamFailsAt?: number;
  streamRefused = false;
  completed?: FinalReply;
  private readonly pacer: Pacer;
  private seq = 0;

  constructor(readonly o: MemoryChatOptions = {}) {
    this.pacer = new Pacer({ buckets: { chat: { minTimeMs: o.minTimeMs ?? 0 } } });
  }

  /** What a reader sees: the texts of the messages that are still there, in order. */
  visible(): string[] {
    return this.messages.filter((m) => !m.removed).map((m) => m.text);
  }

  private async request<T>(op: string, final: boolean | undefined, fn: () => T): Promise<T> {
    return this.pacer.schedule(
      'chat',
      'reply',
      async () => {
        this.requests.push({ op, final, at: Date.now() });
        if (this.o.latencyMs) await new Promise((r) => setTimeout(r, this.o.latencyMs));
        const failure = this.failNext[op]?.shift();
        if (failure === 'rate') throw new RateLimitError(`memory:${op}`, 30);
        if (failure === 'error') throw new PlatformError('memory', op, 'internal_error');
        return fn();
      },
      final ? 'final' : 'progress',
    );
  }

  surface(): ReplySurface {
    const chat = this;
    const s: ReplySurface = {
      maxLength: this.o.maxLength ?? 4000,
      post: (content: Content, opt: SendOptions) =>
        chat.request('post', opt.final, () => {
          const text = resolveContent(content);
          if (text.length > s.maxLength) throw new PlatformError('memory', 'post', 'msg_too_long');
          const m: ChatMessage = { id: String(++chat.seq), text, versions: [text] };
          chat.messages.push(m);
          return { id: m.id } as MessageRef;
        }),
      edit: (ref: MessageRef, content: Content, opt: SendOptions) =>
        chat.request('edit', opt.final, () => {
          const text = resolveContent(content);
          if (text.length > s.maxLength) throw new PlatformError('memory', 'edit', 'msg_too_long');
          const m = chat.messages.find((x) => x.id === ref.id)!;
          m.text = text;
          m.versions.push(text);
        }),
      remove: (ref: MessageRef) =>
        chat.request('remove', true, () => {
          chat.messages.find((x) => x.id === ref.id)!.removed = true;
        }),
      complete: async (final: FinalReply) => {
        chat.completed = final;
      },
    };
    if (this.o.native) s.openStream = () => chat.openStream();
    return s;
  }

  private async openStream(): Promise<NativeStream> {
    if (this.streamRefused) throw new StreamUnavailableError('feature_not_enabled');
    let appends = 0;
    let msg: ChatMessage | undefined;
    let stopped = false;
    const chat = this;
    return {
      maxLength: 12_000,
      get ref() {
        return msg ? { id: msg.id } : undefined;
      },
      append: (text: string) =>
        chat.request('append', false, () => {
          appends++;
          if (stopped || (chat.streamFailsAt !== undefined && appends >= chat.streamFailsAt)) {
            stopped = true;
            throw new StreamUnavailableError('message_not_in_streaming_state');
          }
          if (!msg) {
            msg = { id: String(++chat.seq), text: '', versions: [] };
            chat.messages.push(msg);
          }
          msg.text += text;
          msg.versions.push(msg.text);
        }),
      stop: (finalText: string) =>
        chat.request('stop', true, () => {
          if (stopped) throw new StreamUnavailableError('message_not_in_streaming_state');
          stopped = true;
          if (!msg) {
            msg = { id: String(++chat.seq), text: '', versions: [] };
            chat.messages.push(msg);
          }
          if (msg.text !== finalText) {
            msg.text = finalText;
            msg.versions.push(finalText);
          }
        }),
    };
  }
}
