import type { FeedbackEvent } from '../kernel/types.js';
import type { Logger } from '../kernel/logger.js';
import type { Store } from '../store/store.js';
import type { HttpServer } from '../server/http.js';
import type { Metrics } from '../ops/metrics.js';
import type { CreatePacer } from '../pacing/factory.js';

/** What every adapter factory receives besides its own settings. */
export interface AdapterDeps {
  log: Logger;
  store: Store;
  /** The bot's one HTTP server (Slack HTTP mode mounts `POST /slack/events` here). */
  http: HttpServer;
  /** Optional: counts API calls and 429s (`new Pacer(settings, deps.metrics?.pacerObserver('slack'))`). */
  metrics?: Metrics;
  /**
   * Builds the pacer an adapter wraps its client with, clustered on Redis when the store is
   * Redis and counted in the metrics: `deps.createPacer?.('slack', settings) ?? new Pacer(settings)`.
   */
  createPacer?: CreatePacer;
  /** Optional: where adapters hand 👍/👎/handoff/resume on answers (buttons, reactions). */
  feedback?: (event: FeedbackEvent) => Promise<void>;
}
