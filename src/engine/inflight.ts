import { flat, newId } from '../kernel/strings.js';
import type Keyv from 'keyv';
import type { Logger } from '../kernel/logger.js';
import type { MessageRef, PlatformAdapter } from '../kernel/adapter.js';
import { describe } from '../kernel/errors.js';
import type { Store } from '../store/store.js';
import { ProgressiveRenderer } from './renderer.js';

/** How often a live instance says so, and how long the store believes it. */
const HEARTBEAT_EVERY_MS = 5_000;
export const HEARTBEAT_TTL_MS = 15_000;
/** Progress is written at the first visible text, then at most this often (one store write per reply per second). */
const CHECKPOINT_EVERY_MS = 1_000;
/** Records outlive any reply: a record older than this is stale whatever happened. */
const RECORD_TTL_MS = 24 * 3_600_000;
/** Scans that may try to finalise one interrupted reply before it is given up (and its record removed). */
export const MAX_RECOVERY_ATTEMPTS = 3;

export const INTERRUPTED_NOTE = '\n\n_⚠️ Interrupted: Parley restarted while writing this answer. Please ask again._';

interface InflightRecord {
  instance: string;
  platform: string;
  /** Where the reply lives, as the surface described it (platform-specific, opaque here). */
  location: unknown;
  refs: MessageRef[];
  /** The text shown at the last checkpoint. */
  text: string;
  updatedAt: number;
  /** Failed attempts to finalise it after a crash; the record is dropped after MAX_RECOVERY_ATTEMPTS. */
  recoveryAttempts?: number;
}

export interface InflightTracker {
  /** Called as the reply progresses; writes are throttled. */
  progress(refs: MessageRef[], text: string): void;
  /** The reply ended (delivered or failed): forget it. */
  done(): Promise<void>;
}

/**
 * Crash recovery. Every reply in flight is recorded in the store with where it lives and what
 * it shows; each instance keeps a heartbeat. On start (and periodically), replies recorded by
 * an instance whose heartbeat is gone are claimed by one live instance and finalised with an
 * "interrupted, please ask again" note, so no answer stays half-written or "thinking" forever.
 */
/** How often a running instance looks for replies left half-written by a dead one. */
const RECOVERY_SCAN_EVERY_MS = 60_000;

export class InflightJournal {
  readonly instance = newId();
  private readonly records: Keyv<InflightRecord>;
  private readonly instances: Keyv<number>;
  private timer?: NodeJS.Timeout;
  private scanTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    this.records = store.namespace<InflightRecord>('inflight');
    this.instances = store.namespace<number>('instances');
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_EVERY_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    try {
      await this.instances.set(this.instance, Date.now(), HEARTBEAT_TTL_MS);
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'heartbeat write failed');
    }
  }

  /** Finalises replies interrupted by a crash: now, and periodically for instances that die while this one runs. */
  recoverPeriodically(adapters: PlatformAdapter[]): void {
    const scan = () =>
      this.recover(adapters)
        .then((n) => n && this.log.info({ replies: n }, 'finalised replies interrupted by a restart'))
        .catch((err) => this.log.error({ err }, 'crash recovery scan failed'));
    void scan();
    // An instance killed just before this one started still looks alive until its heartbeat expires.
    setTimeout(() => void scan(), HEARTBEAT_TTL_MS + 1_000).unref();
    this.scanTimer = setInterval(() => void scan(), RECOVERY_SCAN_EVERY_MS);
    this.scanTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.scanTimer);
    await this.instances.delete(this.instance).catch(() => undefined);
  }

  track(key: string, platform: string, location: () => unknown): InflightTracker {
    const id = flat(`${this.instance}:${key}`); // held for the whole reply: one string, not a rope
    let lastWrite = 0;
    let pending: { refs: MessageRef[]; text: string } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    let writing: Promise<unknown> = Promise.resolve();
    const write = () => {
      timer = undefined;
      if (finished || !pending) return;
      const loc = location();
      if (loc === undefined) return;
      const rec: InflightRecord = { instance: this.instance, platform, location: loc, refs: pending.refs, text: pending.text, updatedAt: Date.now() };
      lastWrite = Date.now();
      writing = this.records.set(id, rec, RECORD_TTL_MS).catch((err) => this.log.warn({ err: describe(err) }, 'recording a reply in flight failed'));
    };
    return {
      progress: (refs, text) => {
        if (finished || refs.length === 0) return;
        pending = { refs: [...refs], text };
        if (timer) return;
        const wait = Math.max(0, lastWrite + CHECKPOINT_EVERY_MS - Date.now());
        if (lastWrite === 0) write();
        else {
          timer = setTimeout(write, wait);
          timer.unref();
        }
      },
      done: async () => {
        finished = true;
        clearTimeout(timer);
        await writing;
        if (lastWrite) await this.records.delete(id).catch((err) => this.log.warn({ err: describe(err) }, 'clearing a reply record failed'));
      },
    };
  }

  /** Finalises replies left by dead instances; returns how many were finalised. */
  async recover(adapters: PlatformAdapter[]): Promise<number> {
    let recovered = 0;
    const alive = new Map<string, boolean>();
    for await (const [key, r] of this.store.entries<InflightRecord>('inflight')) {
      if (r.instance === this.instance) continue;
      if (!alive.has(r.instance)) alive.set(r.instance, (await this.instances.get(r.instance)) !== undefined);
      if (alive.get(r.instance)) continue;
      // Only an instance running the reply's platform can finish it: others must not claim it
      // (a `parley ask` on the shared store would hold a Slack reply back for the claim's minute).
      const adapter = adapters.find((a) => a.platform === r.platform);
      if (!adapter?.resumeReply) continue;
      // Several live instances may scan at once: one finalises each record.
      if (!(await this.store.claim(`recover:${key}`, 60_000))) continue;
      try {
        const surface = await adapter.resumeReply(r.location);
        const renderer = new ProgressiveRenderer(surface, { log: this.log, finalAttempts: 3 });
        renderer.adopt(r.refs);
        await renderer.finish({ text: `${r.text}${INTERRUPTED_NOTE}`.trim(), source: 'error' });
        await this.records.delete(key);
        recovered++;
        this.log.info({ platform: r.platform }, 'finalised a reply interrupted by a restart');
      } catch (err) {
        await this.failedAttempt(key, r, err);
      }
    }
    return recovered;
  }

  /** Counts a failed finalisation; the last allowed one removes the record, so no reply is retried forever. */
  private async failedAttempt(key: string, r: InflightRecord, err: unknown): Promise<void> {
    const attempts = (r.recoveryAttempts ?? 0) + 1;
    try {
      if (attempts >= MAX_RECOVERY_ATTEMPTS) {
        await this.records.delete(key);
        this.log.error({ err: describe(err), platform: r.platform, attempts }, 'gave up finalising an interrupted reply; its record is removed');
      } else {
        await this.records.set(key, { ...r, recoveryAttempts: attempts }, RECORD_TTL_MS);
        this.log.error({ err: describe(err), platform: r.platform, attempts }, 'finalising an interrupted reply failed; the next scan tries again');
      }
    } catch (storeErr) {
      this.log.error({ err: describe(storeErr), platform: r.platform }, 'recording a failed finalisation failed');
    }
  }
}
