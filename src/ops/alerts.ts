import type { Logger } from '../kernel/logger.js';
import type { TurnResult } from '../engine/pipeline.js';
import type { Feature } from '../engine/feature.js';
import type { PlatformAdapter } from '../kernel/adapter.js';
import { describe } from '../kernel/errors.js';

export interface AlertSettings {
  /** Sliding window over which the rates are computed. */
  windowMs: number;
  /** Alert when more than this share of model calls failed in the window (0.3 = 30%). */
  modelErrorRate: number;
  /** Below this many model calls in the window, rates say too little to alert on. */
  minCalls: number;
  /** Alert when the p99 of reply time (message received → final text) exceeds this. */
  p99LatencyMs: number;
}

export type AlertKind = 'model_errors' | 'latency';
export type Notify = (text: string) => Promise<void>;

/**
 * The window's samples in time order, as columns in a ring buffer with running counts: a turn
 * adds one and drops the expired ones in O(1) (a pass over the window per turn grew with
 * traffic, and a sample object per reply lived the whole window in the old generation; issue 19).
 */
class SampleWindow {
  private at = new Float64Array(1024);
  private latency = new Float64Array(1024);
  private kind = new Uint8Array(1024);
  private head = 0;
  size = 0;
  calls = 0;
  failed = 0;
  slow = 0;

  constructor(private readonly slowMs: number) {}

  push(at: number, modelCall: boolean, modelFailed: boolean, latencyMs: number): void {
    if (this.size === this.at.length) this.grow();
    const i = (this.head + this.size) % this.at.length;
    this.at[i] = at;
    this.latency[i] = latencyMs;
    this.kind[i] = (modelCall ? CALL : 0) | (modelFailed ? FAILED : 0);
    this.size++;
    this.count(i, 1);
  }

  /** Drops the samples older than `since` (they are at the front). */
  expire(since: number): void {
    while (this.size && this.at[this.head]! < since) {
      this.count(this.head, -1);
      this.head = (this.head + 1) % this.at.length;
      this.size--;
    }
  }

  latencies(): number[] {
    return Array.from({ length: this.size }, (_, k) => this.latency[(this.head + k) % this.at.length]!);
  }

  private count(i: number, by: 1 | -1): void {
    if (this.kind[i]! & CALL) this.calls += by;
    if (this.kind[i]! & FAILED) this.failed += by;
    if (this.latency[i]! > this.slowMs) this.slow += by;
  }

  private grow(): void {
    const n = this.at.length;
    const at = new Float64Array(n * 2);
    const latency = new Float64Array(n * 2);
    const kind = new Uint8Array(n * 2);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) % n;
      at[k] = this.at[i]!;
      latency[k] = this.latency[i]!;
      kind[k] = this.kind[i]!;
    }
    this.at = at;
    this.latency = latency;
    this.kind = kind;
    this.head = 0;
  }
}
const CALL = 1;
const FAILED = 2;

/**
 * Watches finished turns and raises an alert once when the model's error rate or the p99
 * reply latency crosses its bound over a sliding window, then once more on recovery: a log
 * warning and a post to the admin channel, never a message per failing turn.
 */
export class AlertMonitor {
  private readonly samples: SampleWindow;
  private readonly firing = new Set<AlertKind>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: AlertSettings & { log: Logger; notify?: Notify; now?: () => number }) {
    this.samples = new SampleWindow(o.p99LatencyMs);
  }

  /** Re-evaluates periodically too, so an alert recovers when traffic stops. */
  start(everyMs = 30_000): this {
    this.timer = setInterval(() => void this.evaluate(), everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  record(r: TurnResult): Promise<void> {
    const modelCall = r.model !== undefined || (r.error !== undefined && r.error.startsWith('llm_') && r.error !== 'llm_not_configured');
    this.samples.push(this.now(), modelCall, modelCall && r.error !== undefined, r.finishedAt - r.message.receivedAt);
    return this.evaluate();
  }

  get active(): AlertKind[] {
    return [...this.firing];
  }

  async evaluate(): Promise<void> {
    this.samples.expire(this.now() - this.o.windowMs);
    // Running counts: p99 > bound ⇔ more than n − ⌈0.99 n⌉ samples exceed the bound; the p99
    // itself is only computed for the message of a transition.
    const { calls, failed, slow, size: n } = this.samples;
    const rate = calls ? failed / calls : 0;
    await this.transition(
      'model_errors',
      calls >= this.o.minCalls && rate > this.o.modelErrorRate,
      () =>
        `⚠️ Parley alert: ${Math.round(rate * 100)}% of model calls failed in the last ${minutes(this.o.windowMs)} (${failed} of ${calls}; threshold ${Math.round(this.o.modelErrorRate * 100)}%).`,
      () => `✅ Parley recovered: model calls are succeeding again (${failed} of ${calls} failed in the last ${minutes(this.o.windowMs)}).`,
    );
    const p99 = () => percentile(this.samples.latencies(), P99);
    await this.transition(
      'latency',
      n >= this.o.minCalls && n > 0 && slow > n - Math.ceil(P99 * n),
      () => `⚠️ Parley alert: p99 reply time is ${seconds(p99())} over the last ${minutes(this.o.windowMs)} (bound ${seconds(this.o.p99LatencyMs)}).`,
      () => `✅ Parley recovered: p99 reply time is ${seconds(p99())} (bound ${seconds(this.o.p99LatencyMs)}).`,
    );
  }

  private async transition(kind: AlertKind, bad: boolean, alert: () => string, recovery: () => string): Promise<void> {
    if (bad === this.firing.has(kind)) return;
    if (bad) this.firing.add(kind);
    else this.firing.delete(kind);
    const text = bad ? alert() : recovery();
    this.o.log.warn({ alert: kind, firing: bad }, text);
    if (!this.o.notify) return;
    try {
      await this.o.notify(text);
    } catch (err) {
      this.o.log.error({ err: describe(err), alert: kind }, 'posting the alert to the admin channel failed');
    }
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }
}

/**
 * ALERT_CHANNEL (`platform:channel`): where alerts and budget warnings are posted, through that
 * platform's adapter once the platforms run. Before that, or without a platform that can post,
 * posts go nowhere (alerts and warnings are always logged too).
 */
export class AdminChannel {
  private adapter?: PlatformAdapter;

  constructor(
    private readonly target: { platform: string; channel: string } | undefined,
    private readonly log: Logger,
  ) {}

  attach(adapters: PlatformAdapter[]): void {
    if (!this.target) return;
    this.adapter = adapters.find((a) => a.platform === this.target!.platform && a.announce);
    if (!this.adapter)
      this.log.warn({ platform: this.target.platform }, 'ALERT_CHANNEL names a platform that is not running or cannot post; alerts go to the log only');
  }

  readonly post = async (text: string): Promise<void> => {
    if (this.adapter?.announce && this.target) await this.adapter.announce(this.target.channel, text);
  };
}

/** Alerts as a feature: every finished turn is a sample. */
export function alertsFeature(monitor: AlertMonitor): Feature {
  return { name: 'alerts', onTurn: (r) => void monitor.record(r) };
}

const P99 = 0.99;

export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
