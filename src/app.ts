import type { Config } from './config/env.js';
import type { PlatformAdapter } from './core/adapter.js';
import { Engine } from './core/engine.js';
import { createLogger, type Logger } from './core/logger.js';
import { defaultProfile } from './core/profile.js';
import { createGuardrails, installGuardrails } from './guardrails/index.js';
import { LlmClient } from './llm/client.js';
import { createAdapters } from './platforms/index.js';
import { HttpServer } from './server/http.js';
import { HistoryStore } from './store/history.js';
import { openStore, type Store } from './store/store.js';
import { ConversationLock } from './core/conversation-lock.js';
import { Metrics } from './ops/metrics.js';
import { Readiness, modelEndpointCheck, type Check } from './ops/readiness.js';
import { sendJson } from './server/http.js';
import { pacerFactory } from './pacing/factory.js';

export interface Parley {
  /** The HTTP server's port (useful when PORT=0). */
  port: number;
  engine: Engine;
  store: Store;
  http: HttpServer;
  adapters: PlatformAdapter[];
  metrics: Metrics;
  log: Logger;
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
}

/** Builds the engine and its store and model client from `config`, without starting any platform. */
export async function createCore(
  config: Config,
  log: Logger,
  metrics: Metrics = new Metrics({ defaultMetrics: false }),
): Promise<{ engine: Engine; store: Store; llm?: LlmClient }> {
  const store = await openStore(config.store.url);
  const llm = config.llm.model
    ? new LlmClient({
        baseURL: config.llm.baseURL,
        apiKey: config.llm.apiKey,
        connectTimeoutMs: config.llm.connectTimeoutMs,
        idleTimeoutMs: config.llm.idleTimeoutMs,
        maxRetries: config.llm.maxRetries,
        log: log.child({ component: 'llm' }),
      })
    : undefined;
  const history = new HistoryStore(store, {
    ttlMs: config.assistant.historyTtlMs,
    maxTurns: config.assistant.historyMaxTurns,
    observe: (op, ms) => metrics.observeStore(op, ms),
  });
  // Across instances only a shared store needs the lock; one process is serialised by its queue.
  const lock = store.kind === 'redis' ? new ConversationLock(store) : undefined;
  // Guardrails (issue 7): top-level settings and prices come from the config file once it exists (issue 5).
  const guardrails = createGuardrails({ store, history, log: log.child({ component: 'guardrails' }), historyTtlMs: config.assistant.historyTtlMs });
  const engine = new Engine({ history, llm, lock, profile: defaultProfile(config), log, outputTransform: guardrails.outputTransform });
  installGuardrails(engine, guardrails);
  metrics.attach(engine);
  return { engine, store, llm };
}

/**
 * Starts Parley: store, model client, engine, the HTTP server on PORT and every platform
 * whose credentials are set. `stop()` stops taking messages, lets replies finish, and closes.
 */
export async function startParley(config: Config, options: StartOptions = {}): Promise<Parley> {
  const log = options.log ?? createLogger({ level: config.log.level, content: config.log.content });
  const metrics = new Metrics();
  const { engine, store } = await createCore(config, log, metrics);
  const http = new HttpServer(log.child({ component: 'http' }));
  const pacers = pacerFactory({ redisUrl: store.kind === 'redis' ? config.store.url : undefined, metrics });
  const deps = { log, store, http, metrics, createPacer: pacers.create };
  const adapters = [...(options.platforms === false ? [] : createAdapters(config, deps)), ...(options.extraAdapters ?? [])];
  mountOps(http, { config, store, adapters, metrics });
  const port = options.http === false ? 0 : await http.listen(config.http.port);
  const started: PlatformAdapter[] = [];
  let accepting = true;
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
    await Promise.allSettled(started.map((a) => a.stop()));
    await pacers.close();
    await http.close();
    await store.close();
    throw err;
  }
  http.setStarted(true);
  if (options.http !== false) log.info({ port }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop taking messages, let replies in flight finish (they still need the platforms), then disconnect.
      accepting = false;
      http.setStarted(false);
      await engine.shutdown(config.shutdownDeadlineMs);
      await Promise.allSettled(adapters.map((a) => a.stop()));
      await pacers.close();
      await http.close();
      await store.close();
    })());
  return { port, engine, store, http, adapters, metrics, log, stop };
}

/** `/metrics` (Prometheus) and `/readyz` (platforms, store and model reachable; cached). */
function mountOps(http: HttpServer, o: { config: Config; store: Store; adapters: PlatformAdapter[]; metrics: Metrics }): void {
  const checks: Record<string, Check> = {
    store: async () => {
      const kv = o.store.namespace<number>('health');
      const value = Date.now();
      await kv.set('probe', value, 60_000);
      if ((await kv.get('probe')) !== value) throw new Error('the store did not return what was written');
    },
  };
  if (o.config.llm.model) checks.model = modelEndpointCheck(o.config.llm.baseURL, o.config.llm.apiKey);
  for (const adapter of o.adapters) if (adapter.health) checks[adapter.platform] = () => adapter.health!();
  const readiness = new Readiness(checks);
  http.route('GET', '/readyz', async (_req, res) => {
    const report = await readiness.report();
    sendJson(res, report.ok && http.isStarted ? 200 : 503, report);
  });
  http.route('GET', '/metrics', async (_req, res) => {
    const body = await o.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
    res.end(body);
  });
}
