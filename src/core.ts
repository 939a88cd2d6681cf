import type { Config } from './config/env.js';
import { LiveSettings } from './config/live-settings.js';
import { defaultProfile, type Profile } from './config/profile.js';
import type { Logger } from './kernel/logger.js';
import { Engine } from './engine/engine.js';
import { ConversationLock } from './engine/conversation-lock.js';
import { InflightJournal } from './engine/inflight.js';
import type { ChatModelClient } from './llm/client.js';
import { ProviderRouter } from './llm/providers.js';
import { LiveKnowledge } from './knowledge/live.js';
import { HistoryStore } from './store/history.js';
import { openStore, type Store } from './store/store.js';
import { Metrics } from './ops/metrics.js';
import { AdminChannel } from './ops/alerts.js';
import type { Forgetter } from './privacy/forget.js';
import type { Support } from './support/index.js';
import { createFeatures } from './features.js';

/** The engine and what it runs on; `llm` is absent when no model is configured. Also used alone by CLI commands. */
export interface Core {
  engine: Engine;
  store: Store;
  llm?: ChatModelClient;
  live: LiveSettings;
  knowledge: LiveKnowledge;
  journal: InflightJournal;
  adminChannel: AdminChannel;
  hasModel: (p: Profile) => boolean;
  support: Support;
  forgetter: Forgetter;
  close(): void;
}

/** Builds the engine, its store, model client and features from `config`, without starting any platform. */
export async function createCore(
  config: Config,
  log: Logger,
  metrics = new Metrics({ defaultMetrics: false }),
  options: { env?: Record<string, string | undefined>; watch?: boolean } = {},
): Promise<Core> {
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
