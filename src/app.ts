import type { Config } from './config/env.js';
import type { PlatformAdapter } from './kernel/adapter.js';
import { Engine } from './engine/engine.js';
import { createLogger, type Logger } from './kernel/logger.js';
import { defaultProfile, type Profile } from './config/profile.js';
import { createGuardrails, defaultGuardrailSettings, installGuardrails } from './guardrails/index.js';
import { isAdmin } from './guardrails/access.js';
import { createSupport, type Support } from './support/index.js';
import { handoffFromEnv } from './config/handoff.js';
import { mountDashboard } from './dashboard/index.js';
import type { ChatModelClient } from './llm/client.js';
import { LiveConfig } from './config/live.js';
import { findModel } from './config/settings.js';
import { ProviderRouter } from './llm/providers.js';
import { routingMiddleware } from './routing/router.js';
import { LiveKnowledge } from './knowledge/live.js';
import { AnswerCache } from './knowledge/answer-cache.js';
import { knowledgeMiddleware } from './knowledge/middleware.js';
import { createAdapters } from './platforms/index.js';
import { HttpServer } from './server/http.js';
import { HistoryStore } from './store/history.js';
import { openStore, type Store } from './store/store.js';
import { ConversationLock } from './engine/conversation-lock.js';
import { HEARTBEAT_TTL_MS, InflightJournal } from './engine/inflight.js';
import { Metrics } from './ops/metrics.js';
import { Readiness, modelEndpointCheck, type Check } from './ops/readiness.js';
import { sendJson } from './server/http.js';
import { pacerFactory } from './pacing/factory.js';
import { AlertMonitor } from './ops/alerts.js';

export interface Parley {
  /** The HTTP server's port (useful when PORT=0). */
  port: number;
  engine: Engine;
  store: Store;
  http: HttpServer;
  adapters: PlatformAdapter[];
  metrics: Metrics;
  log: Logger;
  /** Feedback, handoff and support analytics (issue 6). */
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

export interface CoreOptions {
  /** Supplies the provider keys a config file names (default: the environment and .env). */
  env?: Record<string, string | undefined>;
  /** Reload the config file and re-index knowledge on change (default true). */
  watch?: boolean;
}

/** Builds the engine and its store and model client from `config`, without starting any platform. */
export async function createCore(
  config: Config,
  log: Logger,
  metrics: Metrics = new Metrics({ defaultMetrics: false }),
  options: CoreOptions = {},
): Promise<{
  engine: Engine;
  store: Store;
  llm?: ChatModelClient;
  live: LiveConfig;
  knowledge: LiveKnowledge;
  journal: InflightJournal;
  /** Where admin notices (budget warnings) are posted, once the platforms are up. */
  adminChannel: { post?: (text: string) => Promise<void> };
  hasModel: (p: Profile) => boolean;
  /** Feedback, handoff and support analytics (issue 6). */
  support: Support;
  close(): void;
}> {
  // Config file (issue 5): an invalid file stops the start here, naming the key and line.
  const live = LiveConfig.load(config, { log: log.child({ component: 'config' }), env: options.env });
  const store = await openStore(config.store.url);
  // One client over every provider of the config file (or the environment's alone), with cross-provider fallbacks.
  const llm = new ProviderRouter(() => live.current, log.child({ component: 'llm' }));
  const hasModel = (p: { model?: string; fallbackModels?: string[] }) => llm.canServe(p);
  const knowledge = new LiveKnowledge(live, { store, log, watch: options.watch ?? true });
  try {
    await knowledge.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const history = new HistoryStore(store, {
    ttlMs: config.assistant.historyTtlMs,
    maxTurns: config.assistant.historyMaxTurns,
    observe: (op, ms) => metrics.observeStore(op, ms),
  });
  // Across instances only a shared store needs the lock; one process is serialised by its queue.
  const lock = store.kind === 'redis' ? new ConversationLock(store) : undefined;
  const journal = new InflightJournal(store, log.child({ component: 'recovery' }));
  // Guardrails (issue 7): top-level settings and prices come from the config file once it exists (issue 5).
  const settings = live.current;
  // Budget warnings go to the admin channel once the platforms exist (startParley sets it).
  const adminChannel: { post?: (text: string) => Promise<void> } = {};
  const guardrails = createGuardrails({
    store,
    history,
    notifyAdmins: async (text) => {
      if (adminChannel.post) await adminChannel.post(text);
    },
    log: log.child({ component: 'guardrails' }),
    historyTtlMs: config.assistant.historyTtlMs,
    // `/parley forget` also clears the person's items in the review queue (support is built just below).
    forgetElsewhere: (platform, userId) => support.review.forgetPerson(platform, userId),
    // Functions: a reloaded config file applies to the next turn (and the output filter).
    settings: () => live.current.guardrails,
    allSettings: () => [...live.current.profiles.values()].flatMap((p) => (p.guardrails ? [p.guardrails] : [])),
    priceOf: (model) => {
      const m = findModel(live.current, model);
      return m?.price ? { inPerM: m.price.input, outPerM: m.price.output } : undefined;
    },
    // Images go only to models marked vision-capable: in the config file, or OPENAI_VISION for the environment's model.
    isVisionModel: (model) => {
      const m = findModel(live.current, model);
      return m ? m.vision : model === config.llm.model && config.llm.vision;
    },
  });
  // Routing first (guardrails and knowledge read the turn's profile), knowledge after guardrails.
  // Support (issue 6): `/parley stats` and the quiet of handed-off threads before the guardrails; the handoff offer around knowledge.
  const support = createSupport({
    store,
    history,
    llm: config.llm.model || settings.file ? llm : undefined,
    log,
    profile: (name) => live.current.profiles.get(name),
    handoffDefaults: handoffFromEnv(config.support.handoff),
    quietPeriodMs: config.support.quietPeriodMs,
    priceOf: (profile, model) => {
      const m = model ? findModel(live.current, model) : undefined;
      return live.current.profiles.get(profile)?.pricing ?? (m?.price ? { inputPerMillion: m.price.input, outputPerMillion: m.price.output } : undefined);
    },
    isAdmin: (ctx) => isAdmin(ctx.message, (ctx.profile.guardrails ?? live.current.guardrails ?? defaultGuardrailSettings()).access),
    settings: () => live.current,
    knowledge: () => knowledge.current,
  });
  const engine = new Engine({
    history,
    llm,
    lock,
    journal,
    profile: defaultProfile(config),
    log,
    outputTransform: guardrails.outputTransform,
    // Handed-off threads: no reply, no typing, until someone says `resume`.
    quiet: support.handoff.isQuiet,
  });
  engine.use(routingMiddleware(() => live.current));
  engine.use(...support.early);
  installGuardrails(engine, guardrails);
  engine.use(...support.beforeKnowledge);
  engine.use(
    knowledgeMiddleware({
      knowledge: () => knowledge.current,
      settings: () => live.current.knowledge,
      hasModel,
      cache: new AnswerCache(store, { log }),
      cacheMinGroundedness: () => live.current.review.groundednessThreshold,
    }),
  );
  if (options.watch ?? true) live.watch();
  metrics.attach(engine);
  engine.onTurn(support.desk.onTurn);
  const close = () => {
    live.close();
    knowledge.close();
  };
  return { engine, store, llm: config.llm.model || settings.file ? llm : undefined, live, knowledge, journal, adminChannel, hasModel, support, close };
}

/**
 * Starts Parley: store, model client, engine, the HTTP server on PORT and every platform
 * whose credentials are set. `stop()` stops taking messages, lets replies finish, and closes.
 */
export async function startParley(config: Config, options: StartOptions = {}): Promise<Parley> {
  const log = options.log ?? createLogger({ level: config.log.level, content: config.log.content });
  const metrics = new Metrics();
  const { engine, store, live, journal, adminChannel, support, close: closeCore } = await createCore(config, log, metrics, { watch: options.watch });
  await journal.start();
  const http = new HttpServer(log.child({ component: 'http' }));
  // Shared by instances only on Redis; alone, each pacer counts its budgets in memory.
  const shared = store.kind === 'redis' ? store : undefined;
  const pacers = pacerFactory({ redisUrl: shared && config.store.url, shared, metrics });
  // The HTTP API answers requests itself (engine.ask) and validates profile names (settings).
  const deps = { log, store, http, metrics, createPacer: pacers.create, engine, settings: () => live.current, feedback: support.desk.feedback };
  const adapters = [...(options.platforms === false ? [] : await createAdapters(config, deps)), ...(options.extraAdapters ?? [])];
  support.setAdapters(adapters);
  mountOps(http, { config, store, adapters, metrics });
  mountDashboard({ http, analytics: support.analytics, review: support.review, adminToken: config.adminToken, log: log.child({ component: 'dashboard' }) });
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
    closeCore();
    await pacers.close();
    await http.close();
    await store.close();
    throw err;
  }
  const alerts = startAlerts(config, adapters, engine, log);
  adminChannel.post = adminPoster(config, adapters);
  const recovery = startRecovery(journal, adapters, log);
  http.setStarted(true);
  if (options.http !== false) log.info({ port }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop taking messages, let replies in flight finish (they still need the platforms), then disconnect.
      accepting = false;
      alerts.stop();
      clearInterval(recovery);
      http.setStarted(false);
      await engine.shutdown(config.shutdownDeadlineMs);
      // Analytics of the last turns reach the store before it closes (webhook retries do not hold the shutdown).
      await support.analytics.idle();
      await Promise.allSettled(adapters.map((a) => a.stop()));
      closeCore();
      await journal.stop();
      await pacers.close();
      await http.close();
      await store.close();
    })());
  return { port, engine, store, http, adapters, metrics, log, support, stop };
}

/** How often a running instance looks for replies left half-written by a dead one. */
const RECOVERY_SCAN_EVERY_MS = 60_000;

/** Finalises replies interrupted by a crash: now, and periodically for instances that die while this one runs. */
function startRecovery(journal: InflightJournal, adapters: PlatformAdapter[], log: Logger): NodeJS.Timeout {
  const scan = () =>
    journal
      .recover(adapters)
      .then((n) => n && log.info({ replies: n }, 'finalised replies interrupted by a restart'))
      .catch((err) => log.error({ err }, 'crash recovery scan failed'));
  void scan();
  // An instance killed just before this one started still looks alive until its heartbeat expires.
  setTimeout(() => void scan(), HEARTBEAT_TTL_MS + 1_000).unref();
  const timer = setInterval(() => void scan(), RECOVERY_SCAN_EVERY_MS);
  timer.unref();
  return timer;
}

/** Posts to ALERT_CHANNEL (the admins' channel) through its platform, if it can post. */
function adminPoster(config: Config, adapters: PlatformAdapter[]): ((text: string) => Promise<void>) | undefined {
  const target = config.alerts.channel;
  const adapter = target && adapters.find((a) => a.platform === target.platform);
  return adapter?.announce && target ? (text) => adapter.announce!(target.channel, text) : undefined;
}

/** Model error-rate and latency alerts, posted to ALERT_CHANNEL through its platform. */
function startAlerts(config: Config, adapters: PlatformAdapter[], engine: Engine, log: Logger): AlertMonitor {
  const target = config.alerts.channel;
  const adapter = target && adapters.find((a) => a.platform === target.platform);
  if (target && !adapter?.announce) log.warn({ platform: target.platform }, 'ALERT_CHANNEL names a platform that is not running or cannot post; alerts go to the log only');
  const monitor = new AlertMonitor({
    ...config.alerts,
    log: log.child({ component: 'alerts' }),
    notify: adapter?.announce && target ? (text) => adapter.announce!(target.channel, text) : undefined,
  }).start();
  engine.onTurn((r) => void monitor.record(r));
  return monitor;
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
