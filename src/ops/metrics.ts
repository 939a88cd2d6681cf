import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Feature } from '../engine/feature.js';
import type { TurnResult } from '../engine/pipeline.js';
import type { IncomingMessage } from '../kernel/types.js';
import type { PacerObserver } from '../pacing/pacer.js';

/** Latency buckets in seconds: chat users notice 0.5 s, give up around 30 s. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60, 120];
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const UPDATE_BUCKETS = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
/** Groundedness is a share of sentences: answers of 2–5 judged sentences land on these steps. */
const GROUNDEDNESS_BUCKETS = [0, 0.2, 0.34, 0.5, 0.67, 0.8, 0.99, 1];

/**
 * Parley's Prometheus metrics (prom-client), fed by engine events and the platforms' pacers.
 * Names follow Prometheus conventions: `_total` counters, `_seconds` histograms.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly messages = new Counter({
    name: 'parley_messages_received_total',
    help: 'Messages received, by platform and trigger',
    labelNames: ['platform', 'trigger'],
    registers: [this.registry],
  });
  readonly replies = new Counter({
    name: 'parley_replies_total',
    help: 'Replies finished, by platform and outcome (answer source, or error code)',
    labelNames: ['platform', 'outcome'],
    registers: [this.registry],
  });
  readonly firstVisible = new Histogram({
    name: 'parley_time_to_first_visible_seconds',
    help: 'From receiving a message to the first text of the reply being visible',
    labelNames: ['platform'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly replyDuration = new Histogram({
    name: 'parley_reply_duration_seconds',
    help: 'From receiving a message to the final text being delivered',
    labelNames: ['platform'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly modelFirstToken = new Histogram({
    name: 'parley_model_time_to_first_token_seconds',
    help: 'From starting the model call to its first token',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'parley_tokens_total',
    help: 'Model tokens, by direction (in = prompt, out = completion) and model',
    labelNames: ['direction', 'model'],
    registers: [this.registry],
  });
  readonly platformCalls = new Counter({
    name: 'parley_platform_api_calls_total',
    help: 'Platform API calls, by platform, method and outcome (ok, rate_limited, error)',
    labelNames: ['platform', 'method', 'outcome'],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'parley_platform_rate_limited_total',
    help: 'Platform 429 responses, by platform and method',
    labelNames: ['platform', 'method'],
    registers: [this.registry],
  });
  readonly updatesPerReply = new Histogram({
    name: 'parley_updates_per_reply',
    help: 'Platform requests (posts, edits, stream appends) per reply',
    labelNames: ['platform'],
    buckets: UPDATE_BUCKETS,
    registers: [this.registry],
  });
  readonly groundedness = new Histogram({
    name: 'parley_answer_groundedness',
    help: "Share of a model answer's sentences backed by the knowledge passages it was given (0–1), by profile",
    labelNames: ['profile'],
    buckets: GROUNDEDNESS_BUCKETS,
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'parley_store_operation_seconds',
    help: 'Store operation latency, by operation',
    labelNames: ['operation'],
    buckets: STORE_BUCKETS,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'parley_store_errors_total',
    help: 'Store operations that failed (an outage): history_load = a turn answered without its history',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  private readonly queueSources: (() => number)[] = [];

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const sources = this.queueSources;
    new Gauge({
      name: 'parley_queue_depth',
      help: 'Messages waiting behind a reply in progress, plus platform requests waiting in pacers',
      registers: [this.registry],
      collect() {
        this.set(sources.reduce((n, f) => n + f(), 0));
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'parley_' });
  }

  /** Feeds the metrics from an engine's events. */
  /** The metrics as a feature: messages in, replies out (and the engine's queue, via addQueue). */
  feature(): Feature {
    return {
      name: 'metrics',
      onMessage: (m: IncomingMessage) => this.messages.inc({ platform: m.platform, trigger: m.trigger }),
      onTurn: (r: TurnResult) => this.recordTurn(r),
    };
  }

  /** Adds a source of waiting requests to the queue-depth gauge (a platform's pacer). */
  addQueue(depth: () => number): void {
    this.queueSources.push(depth);
  }

  /** A pacer observer that counts a platform's API calls and 429s. */
  pacerObserver(platform: string): PacerObserver {
    return {
      onRequest: (method, outcome) => {
        this.platformCalls.inc({ platform, method, outcome });
        if (outcome === 'rate_limited') this.rateLimited.inc({ platform, method });
      },
    };
  }

  observeStore(operation: string, ms: number): void {
    this.storeLatency.observe({ operation }, ms / 1000);
  }

  private recordTurn(r: TurnResult): void {
    const platform = r.message.platform;
    const start = r.message.receivedAt;
    this.replies.inc({ platform, outcome: r.error ?? r.source });
    if (r.firstVisibleAt) this.firstVisible.observe({ platform }, Math.max(0, r.firstVisibleAt - start) / 1000);
    this.replyDuration.observe({ platform }, Math.max(0, r.finishedAt - start) / 1000);
    if (r.grounding) this.groundedness.observe({ profile: r.profile }, r.grounding.score);
    this.updatesPerReply.observe({ platform }, r.updates);
    if (r.model && r.modelFirstTokenMs !== undefined) this.modelFirstToken.observe({ model: r.model }, r.modelFirstTokenMs / 1000);
    if (r.model && r.usage) {
      this.tokens.inc({ direction: 'in', model: r.model }, r.usage.promptTokens);
      this.tokens.inc({ direction: 'out', model: r.model }, r.usage.completionTokens);
    }
    // Calls made for the turn besides the answer (query rewriting) cost tokens too, under their own model.
    for (const c of r.sideCalls ?? []) {
      this.tokens.inc({ direction: 'in', model: c.model }, c.usage.promptTokens);
      this.tokens.inc({ direction: 'out', model: c.model }, c.usage.completionTokens);
    }
  }
}
