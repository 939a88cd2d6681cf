import type { Config } from './config/env.js';
import type { PlatformAdapter } from './kernel/adapter.js';
import type { IncomingMessage } from './kernel/types.js';
import { createLogger, type Logger } from './kernel/logger.js';
import type { Engine } from './engine/engine.js';
import type { Store } from './store/store.js';
import { HttpServer } from './server/http.js';
import { pacerFactory } from './pacing/factory.js';
import { Metrics } from './ops/metrics.js';
import { AlertMonitor, alertsFeature } from './ops/alerts.js';
import { mountOps } from './ops/routes.js';
import { mountDashboard } from './dashboard/index.js';
import { createAdapters, startAdapters } from './platforms/index.js';
import { createCore } from './core.js';
export { createCore, type Core } from './core.js';
import type { Support } from './support/index.js';

/** The composition root: the core (src/core.ts: engine, store, model, features), then the HTTP server and the platforms. */

/** A running Parley; `port` is the HTTP server's (useful when PORT=0). */
export interface Parley {
  port: number;
  engine: Engine;
  store: Store;
  http: HttpServer;
  adapters: PlatformAdapter[];
  metrics: Metrics;
  log: Logger;
  support: Support;
  stop(): Promise<void>;
}

/**
 * `extraAdapters`: run besides the platforms whose credentials are set (the console, tests);
 * `http: false` / `platforms: false`: skip the server / those platforms (one-shot CLI commands);
 * `watch: false`: no config reload or re-index on change.
 */
export interface StartOptions {
  log?: Logger;
  extraAdapters?: PlatformAdapter[];
  http?: boolean;
  platforms?: boolean;
  watch?: boolean;
}

/**
 * Starts Parley: store, model client, engine, the HTTP server on PORT and every platform
 * whose credentials are set. `stop()` stops taking messages, lets replies finish, and closes.
 */
export async function startParley(config: Config, options: StartOptions = {}): Promise<Parley> {
  const log = options.log ?? createLogger({ level: config.log.level, content: config.log.content });
  const metrics = new Metrics();
  const core = await createCore(config, log, metrics, { watch: options.watch });
  const { engine, store, live, journal, support, forgetter } = core;
  await journal.start();
  const http = new HttpServer(log.child({ component: 'http' }));
  // Shared by instances only on Redis; alone, each pacer counts its budgets in memory.
  const shared = store.kind === 'redis' ? store : undefined;
  const pacers = pacerFactory({ redisUrl: shared && config.store.url, shared, metrics });
  // The HTTP API validates profile names (settings) and serves deletions (forgetter).
  const deps = { log, store, http, metrics, createPacer: pacers.create, settings: () => live.current, feedback: support.desk.feedback, forgetter };
  const adapters = [...(options.platforms === false ? [] : await createAdapters(config, deps)), ...(options.extraAdapters ?? [])];
  support.setAdapters(adapters);
  mountOps(http, { config, store, adapters, metrics });
  mountDashboard({ http, analytics: support.analytics, review: support.review, adminToken: config.adminToken, log: log.child({ component: 'dashboard' }) });
  const port = options.http === false ? 0 : await http.listen(config.http.port);
  let accepting = true;
  const closeCore = async () => {
    core.close();
    await journal.stop();
    await pacers.close();
    await http.close();
    await store.close();
  };
  const deliverFor = (adapter: PlatformAdapter) => async (message: IncomingMessage) => {
    if (accepting) return engine.deliver(adapter, message);
    log.warn({ platform: adapter.platform }, 'message arrived while stopping; not taken');
  };
  await startAdapters(adapters, deliverFor, log).catch(async (err) => {
    await closeCore();
    throw err;
  });
  core.adminChannel.attach(adapters);
  const alerts = new AlertMonitor({ ...config.alerts, log: log.child({ component: 'alerts' }), notify: core.adminChannel.post }).start();
  engine.install(alertsFeature(alerts));
  journal.recoverPeriodically(adapters);
  http.setStarted(true);
  if (options.http !== false) log.info({ port }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop taking messages, let replies in flight finish (they still need the platforms), then disconnect.
      accepting = false;
      alerts.stop();
      http.setStarted(false);
      await engine.shutdown(config.shutdownDeadlineMs);
      // Analytics of the last turns reach the store before it closes (webhook retries do not hold the shutdown).
      await support.analytics.idle().catch((err) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'writing the last analytics failed'));
      await Promise.allSettled(adapters.map((a) => a.stop()));
      await closeCore();
    })());
  return { port, engine, store, http, adapters, metrics, log, support, stop };
}
