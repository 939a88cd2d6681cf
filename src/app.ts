import type { Config } from './config/env.js';
import type { PlatformAdapter } from './core/adapter.js';
import { Engine } from './core/engine.js';
import { createLogger, type Logger } from './core/logger.js';
import { defaultProfile } from './core/profile.js';
import { LlmClient } from './llm/client.js';
import { createAdapters } from './platforms/index.js';
import { HttpServer } from './server/http.js';
import { HistoryStore } from './store/history.js';
import { openStore, type Store } from './store/store.js';

export interface Parley {
  /** The HTTP server's port (useful when PORT=0). */
  port: number;
  engine: Engine;
  store: Store;
  http: HttpServer;
  adapters: PlatformAdapter[];
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
export async function createCore(config: Config, log: Logger): Promise<{ engine: Engine; store: Store; llm?: LlmClient }> {
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
  const history = new HistoryStore(store, { ttlMs: config.assistant.historyTtlMs, maxTurns: config.assistant.historyMaxTurns });
  const engine = new Engine({ history, llm, profile: defaultProfile(config), log });
  return { engine, store, llm };
}

/**
 * Starts Parley: store, model client, engine, the HTTP server on PORT and every platform
 * whose credentials are set. `stop()` stops taking messages, lets replies finish, and closes.
 */
export async function startParley(config: Config, options: StartOptions = {}): Promise<Parley> {
  const log = options.log ?? createLogger({ level: config.log.level, content: config.log.content });
  const { engine, store } = await createCore(config, log);
  const http = new HttpServer(log.child({ component: 'http' }));
  const adapters = [...(options.platforms === false ? [] : createAdapters(config, { log, store, http })), ...(options.extraAdapters ?? [])];
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
      await engine.drain();
      await Promise.allSettled(adapters.map((a) => a.stop()));
      await http.close();
      await store.close();
    })());
  return { port, engine, store, http, adapters, log, stop };
}
