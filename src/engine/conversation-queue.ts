import type { IncomingMessage } from '../kernel/types.js';

type Run = (batch: IncomingMessage[]) => Promise<void>;

interface Lane {
  pending: { message: IncomingMessage; done: () => void }[];
  running: Promise<void>;
}

/**
 * One reply at a time per conversation. A message that arrives while a reply is being written
 * waits; when the reply ends, everything that arrived meanwhile is answered together as one
 * turn (several quick messages merged), so nothing is dropped and nothing overtakes.
 */
export class ConversationQueue {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly run: Run,
    private readonly onError: (err: unknown, batch: IncomingMessage[]) => void,
  ) {}

  /** Queues `message`; the promise resolves once the turn that answers it has ended. */
  enqueue(key: string, message: IncomingMessage): Promise<void> {
    return new Promise<void>((done) => {
      const lane = this.lanes.get(key);
      if (lane) {
        lane.pending.push({ message, done });
        return;
      }
      const fresh: Lane = { pending: [{ message, done }], running: Promise.resolve() };
      this.lanes.set(key, fresh);
      fresh.running = this.drainLane(key, fresh);
    });
  }

  private async drainLane(key: string, lane: Lane): Promise<void> {
    while (lane.pending.length) {
      const batch = lane.pending.splice(0);
      try {
        await this.run(batch.map((b) => b.message));
      } catch (err) {
        this.onError(
          err,
          batch.map((b) => b.message),
        );
      }
      for (const b of batch) b.done();
    }
    this.lanes.delete(key);
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
