import type { Logger } from '../kernel/logger.js';
import type { FinalReply, MessageRef, NativeStream, ReplySurface } from '../kernel/adapter.js';
import { DeliveryError, RateLimitError, describe } from '../kernel/errors.js';
import { splitMessage } from './split.js';

export interface RendererOptions {
  log: Logger;
  /** Applied to the whole text before anything is shown, partial or final (blocked terms…). */
  transform?: (text: string) => string;
  /** Attempts per message to deliver the final text before giving up (429s wait their Retry-After). */
  finalAttempts?: number;
  /** Called after each successful update with the messages and the text they show (checkpoints). */
  onProgress?: (refs: MessageRef[], text: string) => void;
}

export interface RenderStats {
  /** When the first text became visible (ms since epoch). */
  firstVisibleAt?: number;
  /** Requests sent to the platform (posts, edits, appends, stops). */
  updates: number;
  failures: number;
  rateLimited: number;
  messages: number;
  native: boolean;
}

interface Slot {
  ref?: MessageRef;
  /** The text this message shows now (undefined: unknown, e.g. after a lost native stream). */
  shown?: string;
  /** The last text handed to the surface for this message, sent or skipped by it. */
  offered?: string;
}

const RETRY_FLOOR_MS = 250;

/**
 * Shows a streaming answer progressively on one ReplySurface.
 *
 * - The first text is sent as soon as it exists; after that at most one request per reply is
 *   in flight, and each carries the newest text when it leaves the pacer (coalescing: no backlog
 *   of stale edits, however slow the platform).
 * - Text past the surface's limit continues in new messages (see splitMessage).
 * - `finish` always ends on the exact final text, retrying through rate limits and failures.
 * - A native stream (Slack, terminal) is used when the surface offers one; if it is refused or
 *   lost, the renderer continues with post/edit on the same message.
 */
export class ProgressiveRenderer {
  /** The answer so far, as the model wrote it (untransformed). */
  private raw = '';
  /** Set by finish(): the exact text to deliver (transformed and decorated). */
  private finalText?: string;
  private readonly slots: Slot[] = [];
  private inFlight?: Promise<void>;
  /** Aborted by finish(): the progress update in flight now carries the final text (SendOptions.hurry). */
  private hurry?: AbortController;
  private retryTimer?: NodeJS.Timeout;
  private finishing = false;
  private progressFailures = 0;
  private stream?: NativeStream;
  private streamState: 'none' | 'opening' | 'open' | 'dead' = 'none';
  private appended = '';
  private splitCache?: { text: string; chunks: string[] };
  private transformCache?: { raw: string; text: string };
  readonly stats: RenderStats = { updates: 0, failures: 0, rateLimited: 0, messages: 0, native: false };

  constructor(
    private readonly surface: ReplySurface,
    private readonly o: RendererOptions,
  ) {
    if (!surface.openStream) this.streamState = 'dead';
  }

  /** The answer so far (the whole text, not a delta). */
  update(text: string): void {
    if (this.finishing) return;
    // Keep the raw text: the transform runs over the whole text, so running it on every delta
    // costs O(n²) per answer, and with coalescing most of those results would never be sent.
    this.raw = text;
    this.kick();
  }

  /**
   * The text to show now: the final text once finishing, else the transformed answer so far.
   * Transformed lazily, when a request reads it, and once per raw text.
   */
  private get text(): string {
    if (this.finalText !== undefined) return this.finalText;
    if (!this.o.transform) return this.raw;
    if (this.transformCache?.raw !== this.raw) this.transformCache = { raw: this.raw, text: this.o.transform(this.raw) };
    return this.transformCache.text;
  }

  /** Continues a reply whose messages already exist (after a restart): their text is unknown. */
  adopt(refs: MessageRef[]): void {
    this.slots.splice(0, this.slots.length, ...refs.map((ref) => ({ ref })));
    this.streamState = 'dead';
  }

  private progressed(): void {
    if (!this.o.onProgress) return;
    const refs = this.slots.flatMap((s) => (s.ref ? [s.ref] : []));
    this.o.onProgress(refs, this.slots.map((s) => s.shown ?? '').join('\n'));
  }

  /** Delivers exactly `final.text` (after the transform) and returns the messages it occupies. */
  async finish(final: FinalReply): Promise<MessageRef[]> {
    this.finishing = true;
    clearTimeout(this.retryTimer);
    const text = this.o.transform ? this.o.transform(final.text) : final.text;
    this.finalText = this.surface.decorate ? this.surface.decorate({ ...final, text }) : text;
    this.hurry?.abort();
    await this.settle();
    if (this.streamState === 'open' || this.streamState === 'opening') {
      if (await this.stopStream()) return this.completeWith(final);
    }
    await this.deliverFinal();
    return this.completeWith(final);
  }

  private async completeWith(final: FinalReply): Promise<MessageRef[]> {
    const refs = this.slots.flatMap((s) => (s.ref ? [s.ref] : []));
    this.stats.messages = refs.length;
    if (this.surface.complete) {
      try {
        await this.surface.complete({ ...final, text: this.text }, refs);
      } catch (err) {
        this.o.log.warn({ err }, 'completing the reply failed');
      }
    }
    return refs;
  }

  private async settle(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  private chunks(): string[] {
    if (this.splitCache?.text !== this.text) this.splitCache = { text: this.text, chunks: splitMessage(this.text, this.surface.maxLength) };
    return this.splitCache.chunks;
  }

  private kick(): void {
    if (this.inFlight || this.finishing || this.retryTimer) return;
    // Progress updates have stopped (finish() still delivers): don't transform text nobody reads.
    if (this.streamState === 'dead' && this.progressFailures >= 3) return;
    if (this.text.length === 0) return;
    const op = this.nextProgressOp();
    if (!op) return;
    this.inFlight = op.finally(() => {
      this.inFlight = undefined;
      // Yield to the event loop between requests, so a surface that answers at once cannot
      // starve timers and I/O.
      if (!this.finishing) setImmediate(() => this.kick());
    });
  }

  private nextProgressOp(): Promise<void> | undefined {
    if (this.streamState === 'none') return this.openStream();
    if (this.streamState === 'open') {
      if (!this.text.startsWith(this.appended) || this.text.length > this.stream!.maxLength) return this.abandonStream();
      if (this.text.length === this.appended.length) return undefined;
      return this.appendStream();
    }
    if (this.streamState === 'opening') return undefined;
    if (this.progressFailures >= 3) return undefined; // stop progress updates; finish() still delivers
    const chunks = this.chunks();
    const i = chunks.findIndex((c, i) => this.slots[i]?.offered !== c);
    if (i < 0) return undefined;
    return this.send(i, false).catch((err) => this.onProgressError(err));
  }

  /** Sends message `i` with the newest text when the request leaves. */
  private async send(i: number, final: boolean): Promise<void> {
    const slot = (this.slots[i] ??= {});
    let sent: string | undefined;
    const content = () => {
      sent = this.chunks()[i] ?? '';
      return sent;
    };
    this.stats.updates++;
    const options = {
      final,
      hurry: final ? undefined : (this.hurry = new AbortController()).signal,
      last: () => this.finalText !== undefined && i === this.chunks().length - 1,
    };
    if (slot.ref) await this.surface.edit(slot.ref, content, options);
    else slot.ref = await this.surface.post(content, options);
    slot.shown = sent;
    // A surface may skip a progress update without reading it (Slack's response_url sends only
    // the final text): remember what was offered so the same text is not offered again.
    slot.offered = sent ?? content();
    this.stats.firstVisibleAt ??= Date.now();
    this.progressFailures = 0;
    this.progressed();
  }

  private onProgressError(err: unknown): void {
    this.stats.failures++;
    this.progressFailures++;
    const wait = err instanceof RateLimitError ? err.retryAfterMs : RETRY_FLOOR_MS * 2 ** this.progressFailures;
    if (err instanceof RateLimitError) this.stats.rateLimited++;
    else this.o.log.warn({ err: describe(err) }, 'progress update failed');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, wait);
    this.retryTimer.unref?.();
  }

  private async deliverFinal(): Promise<void> {
    const attempts = this.o.finalAttempts ?? 8;
    const chunks = this.chunks();
    for (let i = 0; i < chunks.length; i++) {
      // Bounded whatever the surface does: a send that resolves without taking the text (a
      // surface breaking the contract) counts as a failed attempt like one that throws, and
      // every retry waits on a timer, so a broken surface can never spin the event loop.
      for (let attempt = 1; this.slots[i]?.shown !== chunks[i]; attempt++) {
        let failure: unknown;
        try {
          await this.send(i, true);
          if (this.slots[i]?.shown === chunks[i]) break;
          failure = new DeliveryError('the reply surface did not take the final text');
        } catch (err) {
          failure = err;
          if (err instanceof RateLimitError) this.stats.rateLimited++;
        }
        this.stats.failures++;
        if (attempt >= attempts) throw failure;
        // The pacer already holds the scope for Retry-After; wait a little more for other errors.
        const wait = failure instanceof RateLimitError ? 0 : Math.min(5_000, RETRY_FLOOR_MS * 2 ** attempt);
        this.o.log.warn({ err: describe(failure), attempt, message: i }, 'final update failed, retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    // The final text may need fewer messages than the stream did (e.g. after a transform).
    for (const slot of this.slots.splice(chunks.length)) {
      if (!slot.ref) continue;
      try {
        if (this.surface.remove) await this.surface.remove(slot.ref);
        else await this.surface.edit(slot.ref, '…', { final: true });
      } catch (err) {
        this.o.log.warn({ err: describe(err) }, 'removing a surplus message failed');
      }
    }
  }

  // --- native streams ---

  private async openStream(): Promise<void> {
    this.streamState = 'opening';
    try {
      this.stream = await this.surface.openStream!();
      this.streamState = 'open';
      this.stats.native = true;
    } catch (err) {
      this.o.log.info({ reason: describe(err) }, 'native stream unavailable, editing messages instead');
      this.streamState = 'dead';
    }
  }

  private async appendStream(): Promise<void> {
    const delta = this.text.slice(this.appended.length);
    try {
      this.stats.updates++;
      await this.stream!.append(delta);
      this.appended += delta;
      this.stats.firstVisibleAt ??= Date.now();
      if (this.stream!.ref && this.o.onProgress) this.o.onProgress([this.stream!.ref], this.appended);
    } catch (err) {
      this.o.log.info({ reason: describe(err) }, 'native stream lost, editing the message instead');
      this.fallBackFromStream();
    }
  }

  /** The text can no longer be appended (it changed, or outgrew the stream): end the stream and edit. */
  private async abandonStream(): Promise<void> {
    try {
      this.stats.updates++;
      await this.stream!.stop(this.appended);
      this.slots[0] = { ref: this.stream!.ref, shown: this.appended || undefined, offered: this.appended || undefined };
      this.streamState = 'dead';
    } catch {
      this.fallBackFromStream();
    }
  }

  private fallBackFromStream(): void {
    // Keep the streamed message: the next edit replaces its content, so nothing is repeated.
    this.slots[0] = { ref: this.stream?.ref, shown: undefined };
    if (!this.slots[0].ref) this.slots.length = 0;
    this.streamState = 'dead';
  }

  /** Ends a native stream with the final text if it fits; false when post/edit must finish. */
  private async stopStream(): Promise<boolean> {
    if (this.streamState === 'opening') await this.settle();
    if (this.streamState !== 'open') return false;
    if (this.text.length > this.stream!.maxLength) {
      await this.abandonStream();
      return false;
    }
    try {
      this.stats.updates++;
      await this.stream!.stop(this.text);
      this.stats.firstVisibleAt ??= Date.now();
      this.slots[0] = { ref: this.stream!.ref, shown: this.text, offered: this.text };
      this.streamState = 'dead';
      return true;
    } catch (err) {
      this.o.log.info({ reason: describe(err) }, 'native stream could not be stopped, editing the message instead');
      this.fallBackFromStream();
      return false;
    }
  }
}
