import { startParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { FakeOpenAI, type ScriptedReply } from '../../test/fakes/openai-server.js';
import { MemoryAdapter } from '../../test/fakes/memory-adapter.js';
import type { TurnResult } from '../../src/engine/pipeline.js';

/** Parley with only the in-memory platform (test/fakes/memory-adapter.ts) and the scripted model. */
export interface EngineWorld {
  parley: Parley;
  openai: FakeOpenAI;
  adapter: MemoryAdapter;
  /** Asks in conversation `conversation` and resolves with the turn. */
  ask(text: string, conversation: string): Promise<TurnResult | undefined>;
  stop(): Promise<void>;
}

export async function engineWorld(o: { storeUrl: string; reply: ScriptedReply }): Promise<EngineWorld> {
  const openai = await FakeOpenAI.start();
  openai.defaultReply = () => ({ ...o.reply });
  const adapter = new MemoryAdapter();
  const config = loadConfig({
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: 'k',
    OPENAI_MODEL: 'fake-model',
    STORE_URL: o.storeUrl,
    PORT: '0',
    LOG_LEVEL: 'silent',
    HISTORY_TTL_DAYS: '1',
    SHUTDOWN_DEADLINE_MS: '5000',
  });
  const parley = await startParley(config, { log: silentLogger(), extraAdapters: [adapter], http: false, platforms: false, watch: false });
  return {
    parley,
    openai,
    adapter,
    // One asker per conversation: Parley's default guardrails allow 20 questions per user per minute.
    ask: (text, conversation) =>
      parley.engine.deliver(adapter, adapter.message(text, { thread: conversation, channel: 'C1', user: { id: `U-${conversation}` } })),
    async stop() {
      await parley.stop();
      await openai.close();
    },
  };
}
