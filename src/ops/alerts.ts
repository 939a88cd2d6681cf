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

interface Sample {
  at: number;
  modelCall: boolean;
  modelFailed: boolean;
  latencyMs: number;
}

/**
 * Watches finished turns and raises an alert once when the model's error rate or the p99
 * reply latency crosses its bound over a sliding window, then once more on recovery: a log
 * warning and a post to the admin channel, never a message per failing turn.
 */
export class AlertMonitor {
  private samples: Sample[] = [];
  private readonly firing = new Set<AlertKind>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: AlertSettings & { log: Logger; notify?: Notify; now?: () => number }) {}

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
    this.samples.push({ at: this.now(), modelCall, modelFailed: modelCall && r.error !== undefined, latencyMs: r.finishedAt - r.message.receivedAt });
    return this.evaluate();
  }

  get active(): AlertKind[] {
    return [...this.firing];
  }

  async evaluate(): Promise<void> {
    const since = this.now() - this.o.windowMs;
    // Samples arrive in time order: the expired ones are at the front.
    let expired = 0;
    while (expired < this.samples.length && this.samples[expired]!.at < since) expired++;
    if (expired) this.samples.splice(0, expired);
    // One pass per turn, no sort: this runs after every reply (issue 19: sorting the window was a
    // visible share of a reply's CPU, growing with traffic). p99 > bound ⇔ more than n − ⌈0.99 n⌉
    // samples exceed the bound; the p99 itself is only computed for the message of a transition.
    let calls = 0;
    let failed = 0;
    let slow = 0;
    for (const s of this.samples) {
      if (s.modelCall) calls++;
      if (s.modelFailed) failed++;
      if (s.latencyMs > this.o.p99LatencyMs) slow++;
    }
    const rate = calls ? failed / calls : 0;
    await this.transition(
      'model_errors',
      calls >= this.o.minCalls && rate > this.o.modelErrorRate,
      () =>
        `⚠️ Parley alert: ${Math.round(rate * 100)}% of model calls failed in the last ${minutes(this.o.windowMs)} (${failed} of ${calls}; threshold ${Math.round(this.o.modelErrorRate * 100)}%).`,
      () => `✅ Parley recovered: model calls are succeeding again (${failed} of ${calls} failed in the last ${minutes(this.o.windowMs)}).`,
    );
    const n = this.samples.length;
    const p99 = () =>
      percentile(
        this.samples.map((s) => s.latencyMs),
        P99,
      );
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
