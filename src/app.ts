import type { Config } from './config/env.js';
import { LiveSettings } from './config/live-settings.js';
import { defaultProfile, type Profile } from './config/profile.js';
import type { PlatformAdapter } from './kernel/adapter.js';
import { createLogger, type Logger } from './kernel/logger.js';
import { Engine } from './engine/engine.js';
import { ConversationLock } from './engine/conversation-lock.js';
import { InflightJournal } from './engine/inflight.js';
import type { ChatModelClient } from './llm/client.js';
import { ProviderRouter } from './llm/providers.js';
import { LiveKnowledge } from './knowledge/live.js';
import { HistoryStore } from './store/history.js';
import { openStore, type Store } from './store/store.js';
import { HttpServer } from './server/http.js';
import { pacerFactory } from './pacing/factory.js';
import { Metrics } from './ops/metrics.js';
import { AdminChannel, AlertMonitor, alertsFeature } from './ops/alerts.js';
import type { Forgetter } from './privacy/forget.js';
import { mountOps } from './ops/routes.js';
import { mountDashboard } from './dashboard/index.js';
import { createAdapters } from './platforms/index.js';
import { createFeatures } from './features.js';
import type { Support } from './support/index.js';

/** The composition root: builds the core and its features (src/features.ts), then the platforms. */

export interface Core {
  engine: Engine;
  store: Store;
  /** Absent when no model is configured. */
  llm?: ChatModelClient;
  live: LiveSettings;
  knowledge: LiveKnowledge;
  journal: InflightJournal;
  /** ALERT_CHANNEL: budget warnings and alerts, once the platforms are attached. */
  adminChannel: AdminChannel;
  hasModel: (p: Profile) => boolean;
  /** Feedback, handoff, support analytics and the review queue. */
  support: Support;
  /** The one deletion path: `/parley forget`, `parley forget`, the HTTP API's DELETE. */
  forgetter: Forgetter;
  close(): void;
}

/** Builds the engine, its store, model client and features from `config`, without starting any platform. */
export async function createCore(config: Config, log: Logger, metrics = new Metrics({ defaultMetrics: false }), options: { env?: Record<string, string | undefined>; watch?: boolean } = {}): Promise<Core> {
  // An invalid config file stops the start here, naming the key and line.
  const live = LiveSettings.load(config, { log: log.child({ component: 'config' }), env: options.env });
  const store = await openStore(config.store.url);
  // One client over every provider of the config file (or the environment's alone), with cross-provider fallbacks.
  const router = new ProviderRouter(() => live.current, log.child({ component: 'llm' }));
  const llm = config.llm.model || live.current.file ? router : undefined;
  const hasModel = (p: { model?: string; fallbackModels?: string[] }) => router.canServe(p);
  const knowledge = new LiveKnowledge(live, { store, log, watch: options.watch ?? true });
  await knowledge.start().catch(async (err) => {
    await store.close();
    throw err;
  });
  const history = new HistoryStore(store, {
    ttlMs: config.assistant.historyTtlMs,
    maxTurns: config.assistant.historyMaxTurns,
    observe: (op, ms) => metrics.observeStore(op, ms),
    failed: (op) => metrics.storeErrors.inc({ operation: op }),
  });
  const journal = new InflightJournal(store, log.child({ component: 'recovery' }));
  const adminChannel = new AdminChannel(config.alerts.channel, log.child({ component: 'alerts' }));
  const { features, support, forgetter } = createFeatures({ config, live, store, history, llm, hasModel, knowledge, metrics, adminChannel, log });
  // Across instances only a shared store needs the lock; one process is serialised by its queue.
  const lock = store.kind === 'redis' ? new ConversationLock(store) : undefined;
  const engine = new Engine({ history, llm: router, lock, journal, profile: defaultProfile(config), log }).install(...features);
  metrics.addQueue(() => engine.pending.waiting);
  if (options.watch ?? true) live.watch();
  const close = () => (live.close(), knowledge.close());
  return { engine, store, llm, live, knowledge, journal, adminChannel, hasModel, support, forgetter, close };
}

export interface Parley {
  /** The HTTP server's port (useful when PORT=0). */
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

export interface StartOptions {
  log?: Logger;
  /** Adapters to run besides those whose credentials are set (the console, tests). */
  extraAdapters?: PlatformAdapter[];
  /** Skip the HTTP server (one-shot CLI commands). */
  http?: boolean;
  /** Skip the platforms whose credentials are set (one-shot CLI commands). */
  platforms?: boolean;
  /** Reload the config file and re-index knowledge on change (default true). */
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
  // The HTTP API answers requests itself (engine.ask) and validates profile names (settings).
  const deps = { log, store, http, metrics, createPacer: pacers.create, engine, settings: () => live.current, feedback: support.desk.feedback, forgetter };
  const adapters = [...(options.platforms === false ? [] : await createAdapters(config, deps)), ...(options.extraAdapters ?? [])];
  support.setAdapters(adapters);
  mountOps(http, { config, store, adapters, metrics });
  mountDashboard({ http, analytics: support.analytics, review: support.review, adminToken: config.adminToken, log: log.child({ component: 'dashboard' }) });
  const port = options.http === false ? 0 : await http.listen(config.http.port);
  const started: PlatformAdapter[] = [];
  let accepting = true;
  const closeAll = async () => {
    await Promise.allSettled(started.map((a) => a.stop()));
    core.close();
    await journal.stop();
    await pacers.close();
    await http.close();
    await store.close();
  };
  try {
    for (const adapter of adapters) {
      await adapter.start(async (message) => {
        if (accepting) return engine.deliver(adapter, message);
        log.warn({ platform: adapter.platform }, 'message arrived while stopping; not taken');
      });
      started.push(adapter);
      log.info({ platform: adapter.platform }, 'platform started');
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
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
      await closeAll();
    })());
  return { port, engine, store, http, adapters, metrics, log, support, stop };
}
