import type { ServerResponse } from 'node:http';
import { resolveContent, type Content, type MessageRef, type NativeStream, type ReplySurface } from '../../kernel/adapter.js';

/** Where a task's answer is written, as crash recovery records it. */
export interface TaskLocation {
  task: string;
}

/** Comment lines keep proxies from closing a quiet stream while the model thinks. */
const HEARTBEAT_MS = 15_000;

/**
 * One Server-Sent Events response. Events: `start` (the conversation id), `delta` (text to
 * append), `replace` (the whole text so far, when it changed rather than grew), `done` (the
 * final answer) and `error`. A client that went away is not an error: the answer still
 * completes and is stored.
 */
export class SseResponse {
  private readonly heartbeat: NodeJS.Timeout;
  private ended = false;
  private corked = false;

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and some ingresses buffer responses unless told not to.
      'x-accel-buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
    res.on('close', () => this.close());
  }

  send(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    this.close();
    this.res.end();
  }

  private write(chunk: string): void {
    if (this.ended || this.res.writableEnded || this.res.destroyed) return;
    // Events written in one tick (the last delta, `done` and the end) leave in one syscall.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    this.res.write(chunk);
  }

  private close(): void {
    this.ended = true;
    clearInterval(this.heartbeat);
  }
}

/**
 * Where the engine writes one API answer. With an SSE response it is a native stream: the
 * renderer's appends become `delta` events. Without one (JSON and tasks) nothing is shown
 * while the model writes; the caller sends the final answer from the turn's result.
 */
export class ApiSurface implements ReplySurface {
  readonly maxLength = Number.MAX_SAFE_INTEGER;
  private shown = '';
  private readonly ref: MessageRef = { id: 'answer' };

  /**
   * @param location where a background task's answer goes (`{ task }`): recorded by crash
   *   recovery, so another instance can mark the task failed if this one dies mid-answer.
   */
  constructor(
    private readonly sse?: SseResponse,
    private readonly location?: TaskLocation,
  ) {
    if (sse) this.openStream = this.stream;
  }

  /** The stream's first event, sent before the turn is queued (so the client knows its conversation at once). */
  start(conversationId: string): this {
    this.sse?.send('start', { conversationId });
    return this;
  }

  describe(): TaskLocation | undefined {
    // A streamed or JSON answer dies with its HTTP connection; only tasks can be finalised later.
    return this.location;
  }

  openStream?: () => Promise<NativeStream>;

  async post(content: Content): Promise<MessageRef> {
    this.show(resolveContent(content));
    return this.ref;
  }

  async edit(_ref: MessageRef, content: Content): Promise<void> {
    this.show(resolveContent(content));
  }

  private async stream(): Promise<NativeStream> {
    return {
      maxLength: Number.MAX_SAFE_INTEGER,
      ref: this.ref,
      append: async (text: string) => this.show(this.shown + text),
      stop: async (finalText: string) => this.show(finalText),
    };
  }

  /** Ends the stream with the turn's answer (`done`) or why there is none (`error`): the stream's last event. */
  finish(event: 'done' | 'error', data: unknown): void {
    if (!this.sse) return;
    this.sse.send(event, data);
    this.sse.end();
  }

  /** Sends what changed since the last event: the new tail, or the whole text if it was rewritten. */
  private show(text: string): void {
    if (!this.sse || text === this.shown) return;
    if (text.startsWith(this.shown)) this.sse.send('delta', { text: text.slice(this.shown.length) });
    else this.sse.send('replace', { text });
    this.shown = text;
  }
}
