import type { IncomingMessage } from '../kernel/types.js';
import { attempt } from '../kernel/promise.js';

type Run<R> = (batch: IncomingMessage[]) => Promise<R>;

interface Lane<R> {
  pending: { message: IncomingMessage; done: (result: R | undefined) => void }[];
  running: Promise<void>;
}

/**
 * One reply at a time per conversation. A message that arrives while a reply is being written
 * waits; when the reply ends, everything that arrived meanwhile is answered together as one
 * turn (several quick messages merged), so nothing is dropped and nothing overtakes.
 */
export class ConversationQueue<R = void> {
  private readonly lanes = new Map<string, Lane<R>>();

  constructor(
    private readonly run: Run<R>,
    private readonly onError: (err: unknown, batch: IncomingMessage[]) => void,
  ) {}

  /**
   * Queues `message`; the promise resolves once the turn that answers it has ended, with what
   * that turn returned (undefined when it failed; merged messages share one turn's result).
   */
  enqueue(key: string, message: IncomingMessage): Promise<R | undefined> {
    return new Promise<R | undefined>((done) => {
      const lane = this.lanes.get(key);
      if (lane) {
        lane.pending.push({ message, done });
        return;
      }
      const fresh: Lane<R> = { pending: [{ message, done }], running: Promise.resolve() };
      this.lanes.set(key, fresh);
      fresh.running = this.drainLane(key, fresh);
    });
  }

  /**
   * Runs the lane's waiting messages as one turn, then whatever arrived meanwhile, until none is
   * left. Chained, not an async loop: a lane whose reply is streaming holds no suspended frame
   * (issue 19).
   */
  private drainLane(key: string, lane: Lane<R>): Promise<void> {
    const batch = lane.pending.splice(0);
    if (!batch.length) {
      this.lanes.delete(key);
      return Promise.resolve();
    }
    const messages = batch.map((b) => b.message);
    const after = (result: R | undefined): Promise<void> => {
      for (const b of batch) b.done(result);
      return this.drainLane(key, lane);
    };
    return attempt(() => this.run(messages)).then(after, (err) => {
      this.onError(err, messages);
      return after(undefined);
    });
  }

  /** Conversations with a reply in progress or waiting. */
  get active(): number {
    return this.lanes.size;
  }

  /** Messages waiting behind a reply in progress. */
  get waiting(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.pending.length;
    return n;
  }

  /** Resolves when every queued message has been answered. */
  async drain(): Promise<void> {
    while (this.lanes.size) await Promise.all([...this.lanes.values()].map((l) => l.running));
  }
}
