/**
 * Work started in the background that someone must be able to wait for (shutdown, tests, a
 * budget check that counts recordings in progress): the one tracker every part uses.
 * A rejection goes to `onError` (never lost, never an unhandled rejection).
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Tracks `work` until it settles; the returned promise resolves with its value, or undefined when it failed. */
  track<T>(work: Promise<T>): Promise<T | undefined> {
    const tracked = work.then(
      (value) => value,
      (err) => {
        this.onError(err);
        return undefined;
      },
    );
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
    return tracked;
  }

  get size(): number {
    return this.running.size;
  }

  /** Resolves when what is running now has settled (a snapshot: later work is not waited for). */
  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }

  /** Resolves when nothing is running, including work started while waiting. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}
