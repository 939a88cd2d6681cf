import type { PlatformAdapter, ReplySurface } from '../../src/kernel/adapter.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Profile } from '../../src/config/profile.js';
import type { IncomingMessage } from '../../src/kernel/types.js';
import { createGuardrails, guardrailsFeature, type GuardrailDeps, type Guardrails } from '../../src/guardrails/index.js';
import { commandsFeature } from '../../src/commands/index.js';
import { Forgetter, privacyFeature } from '../../src/privacy/forget.js';
import { guardrailSettingsSchema, type GuardrailSettingsInput } from '../../src/config/guardrails.js';
import { LlmClient } from '../../src/llm/client.js';
import { HistoryStore } from '../../src/store/history.js';
import type { Store } from '../../src/store/store.js';
import type { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import type { MemoryChatOptions } from '../fakes/memory-chat.js';

/** A memory adapter whose replies can also whisper (like Slack's postEphemeral), keeping each private note. */
export class WhisperingAdapter extends MemoryAdapter {
  readonly notes = new Map<string, string[]>();
  constructor(
    private readonly whisper = true,
    chat: MemoryChatOptions = {},
  ) {
    super(chat);
  }
  override async openReply(message: IncomingMessage): Promise<ReplySurface> {
    const surface = await super.openReply(message);
    if (!this.whisper) return surface;
    return {
      ...surface,
      notify: async (text: string) => {
        this.notes.set(message.id, [...(this.notes.get(message.id) ?? []), text]);
      },
    };
  }
  /** The private notes to message `id`, joined. */
  noted(id: string): string {
    return (this.notes.get(id) ?? []).join('\n');
  }
}

export const testProfile = (o: Partial<Profile> = {}): Profile => ({
  name: 'default',
  systemPrompt: 'You are a test assistant.',
  model: 'fake-model',
  fallbackModels: [],
  contextWindow: 16_000,
  maxOutputTokens: 500,
  ...o,
});

export interface Rig {
  engine: Engine;
  guardrails: Guardrails;
  history: HistoryStore;
  /** Sends `message` and waits until its turn and its usage recording are done. */
  ask(adapter: PlatformAdapter, message: IncomingMessage): ReturnType<Engine['deliver']>;
}

/** The real engine with the real model client (against the fake server) and the guardrails installed as in createCore. */
export function rig(o: { store: Store; fake: FakeOpenAI; settings?: GuardrailSettingsInput; profile?: Partial<Profile>; deps?: Partial<GuardrailDeps> }): Rig {
  const log = silentLogger();
  const history = new HistoryStore(o.store, { maxTurns: 50 });
  const guardrails = createGuardrails({
    store: o.store,
    history,
    log,
    settings: guardrailSettingsSchema.parse(o.settings ?? {}),
    ...o.deps,
  });
  const llm = new LlmClient({ baseURL: o.fake.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 0, backoffBaseMs: 5, log });
  const settings = guardrailSettingsSchema.parse(o.settings ?? {});
  const forgetter = new Forgetter({ store: o.store, history, ledger: guardrails.ledger, ledgerRetentionDays: () => settings.privacy.ledgerRetentionDays, log });
  const features = [guardrailsFeature(guardrails), privacyFeature(forgetter)];
  const engine = new Engine({ history, llm, profile: testProfile(o.profile), log }).install(commandsFeature(features), ...features);
  return {
    engine,
    guardrails,
    history,
    ask: async (adapter, message) => {
      const r = await engine.deliver(adapter, message);
      await guardrails.idle();
      return r;
    },
  };
}

/** The last user message the model received. */
export function lastQuestionSent(fake: FakeOpenAI): string {
  const msgs = fake.chatRequests.at(-1)?.body.messages as { role: string; content: string }[] | undefined;
  return [...(msgs ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
}

/** Everything the model received in its last request (system, history and question). */
export function everythingSent(fake: FakeOpenAI): string {
  return JSON.stringify(fake.chatRequests.at(-1)?.body ?? {});
}
