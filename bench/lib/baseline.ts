import type { Parley } from '../../src/app.js';
import { resolveContent, type MessageRef, type NativeStream, type ReplySurface } from '../../src/kernel/adapter.js';

/**
 * The baseline: the renderer's coalescing turned off from the outside, without touching src/.
 * Each adapter's reply surface is wrapped so that every `post`/`edit`/`append` the renderer
 * asks for returns at once with its text read *now* (not when the request leaves the pacer),
 * and the real request is queued behind the reply's earlier ones. The renderer's one request in
 * flight therefore never holds anything back: every model chunk becomes its own platform
 * request, sent in order (an update per chunk). The final text waits behind that backlog, as it
 * would in a naive bot. The adapters' platform pacers stay on (without them the fakes answer 429).
 *
 * `abort()` drops whatever is still queued (so a capped run can end); what was dropped is counted.
 */
export class EveryChunk {
  private aborted = false;
  private onAbort!: () => void;
  /** Resolves on abort: awaited operations stop waiting for a request still held by the pacer. */
  private readonly abortedP = new Promise<void>((r) => (this.onAbort = r));
  dropped = 0;

  install(parley: Parley): void {
    for (const adapter of parley.adapters) {
      const open = adapter.openReply.bind(adapter);
      adapter.openReply = async (message) => this.wrap(await open(message));
    }
  }

  abort(): void {
    this.aborted = true;
    this.onAbort();
  }

  private wrap(s: ReplySurface): ReplySurface {
    let chain: Promise<unknown> = Promise.resolve();
    const enqueue = <T>(fn: () => Promise<T>, fallback: T): Promise<T> => {
      const p = chain.then(() => {
        if (this.aborted) {
          this.dropped++;
          return fallback;
        }
        return fn();
      });
      chain = p.catch(() => undefined);
      return Promise.race([p, this.abortedP.then(() => fallback)]);
    };
    const pending = new Map<string, Promise<MessageRef>>();
    const real = (ref: MessageRef) => pending.get(ref.id) ?? Promise.resolve(ref);
    let seq = 0;
    const quiet = (p: Promise<unknown>) => void p.catch(() => undefined);
    const wrapped: ReplySurface = {
      maxLength: s.maxLength,
      post: async (content, o) => {
        const text = resolveContent(content);
        const p = enqueue(() => s.post(text, o), { id: 'dropped' });
        if (o.final || this.aborted) return p;
        const id = `pending-${++seq}`;
        pending.set(id, p);
        quiet(p);
        return { id };
      },
      edit: async (ref, content, o) => {
        const text = resolveContent(content);
        const p = enqueue(async () => s.edit(await real(ref), text, o), undefined);
        if (o.final) await p;
        else quiet(p);
      },
    };
    if (s.remove) wrapped.remove = (ref) => enqueue(async () => s.remove!(await real(ref)), undefined);
    if (s.showTyping) wrapped.showTyping = () => s.showTyping!();
    if (s.notify) wrapped.notify = (text) => s.notify!(text);
    if (s.describe) wrapped.describe = () => s.describe!();
    if (!s.complete) wrapped.complete = () => enqueue(async () => undefined, undefined);
    if (s.complete)
      // Behind the backlog: the turn ends when everything queued for the reply has been sent.
      wrapped.complete = (final, refs) => enqueue(async () => s.complete!(final, await Promise.all(refs.map(real))), undefined);
    if (s.openStream)
      wrapped.openStream = async (): Promise<NativeStream> => {
        const stream = await s.openStream!();
        return {
          maxLength: stream.maxLength,
          get ref() {
            return stream.ref;
          },
          // The first append opens the stream on the platform: awaited, so a refused stream reaches
          // the renderer (which then edits messages); later appends return at once.
          append: async (text) => {
            const p = enqueue(() => stream.append(text), undefined);
            if (stream.ref) quiet(p);
            else await p;
          },
          stop: (finalText) => enqueue(() => stream.stop(finalText), undefined),
        };
      };
    return wrapped;
  }
}
