import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { Engine } from '../../src/engine/engine.js';
import { ConversationLock } from '../../src/engine/conversation-lock.js';
import { LlmClient } from '../../src/llm/client.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

const log = silentLogger();
const env = (extra: Record<string, string> = {}) =>
  loadConfig({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'k', OPENAI_MODEL: 'fake-model', STORE_URL: 'memory://', PORT: '0', ...extra });

async function get(p: Parley, path: string): Promise<{ status: number; text: string; json?: any }> {
  const res = await fetch(`http://127.0.0.1:${p.port}${path}`);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** The value of one Prometheus sample, e.g. `parley_replies_total{platform="memory",outcome="model"}`. */
function sample(metrics: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{([^}]*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[3] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(m[4]);
  }
  return undefined;
}

describe('health, readiness and metrics on PORT', () => {
  it('serves /healthz once started, /readyz with each check, and 503 when the model is unreachable', async () => {
    const p = await startParley(env(), { log });
    try {
      expect((await get(p, '/healthz')).status).toBe(200);
      const ready = await get(p, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.json.checks.store.ok).toBe(true);
      expect(ready.json.checks.model.ok).toBe(true);
    } finally {
      await p.stop();
    }
    const down = await startParley(env({ OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' }), { log });
    try {
      const ready = await get(down, '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json.checks.model.ok).toBe(false);
      expect(ready.json.checks.store.ok).toBe(true);
    } finally {
      await down.stop();
    }
  });

  it('counts messages, replies, tokens and latencies after a scripted conversation', async () => {
    const adapter = new MemoryAdapter();
    const p = await startParley(env(), { log, extraAdapters: [adapter] });
    try {
      fake.script({ text: 'first answer', usage: { prompt_tokens: 20, completion_tokens: 7 } });
      fake.script({ text: 'second answer', usage: { prompt_tokens: 30, completion_tokens: 9 } });
      fake.script({ status: 400 });
      await p.engine.deliver(adapter, adapter.message('one'));
      await p.engine.deliver(adapter, adapter.message('two', { trigger: 'thread_follow_up' }));
      await p.engine.deliver(adapter, adapter.message('three', { thread: 'other' }));
      const m = (await get(p, '/metrics')).text;
      expect(sample(m, 'parley_messages_received_total', { platform: 'memory', trigger: 'mention' })).toBe(2);
      expect(sample(m, 'parley_messages_received_total', { platform: 'memory', trigger: 'thread_follow_up' })).toBe(1);
      expect(sample(m, 'parley_replies_total', { platform: 'memory', outcome: 'model' })).toBe(2);
      expect(sample(m, 'parley_replies_total', { platform: 'memory', outcome: 'llm_rejected' })).toBe(1);
      expect(sample(m, 'parley_tokens_total', { direction: 'in', model: 'fake-model' })).toBe(50);
      expect(sample(m, 'parley_tokens_total', { direction: 'out', model: 'fake-model' })).toBe(16);
      expect(sample(m, 'parley_time_to_first_visible_seconds_count', { platform: 'memory' })).toBe(3);
      expect(sample(m, 'parley_model_time_to_first_token_seconds_count', { model: 'fake-model' })).toBe(2);
      expect(sample(m, 'parley_store_operation_seconds_count', { operation: 'history_save' })).toBe(2);
      expect(sample(m, 'parley_queue_depth')).toBe(0);
    } finally {
      await p.stop();
    }
  });
});

describe('shutdown', () => {
  it('lets a reply in progress finish within the deadline', async () => {
    const adapter = new MemoryAdapter();
    const p = await startParley(env({ SHUTDOWN_DEADLINE_MS: '5000' }), { log, extraAdapters: [adapter] });
    fake.script({ text: 'a complete answer that takes a while', chunkDelayMs: 40 });
    const m = adapter.message('go');
    const answered = p.engine.deliver(adapter, m);
    await new Promise((r) => setTimeout(r, 100));
    await p.stop();
    expect((await answered)!.error).toBeUndefined();
    expect(adapter.shown(m.id)).toBe('a complete answer that takes a while');
  });

  it('waits for turn listeners (ledger, analytics writes) before closing the store', async () => {
    const adapter = new MemoryAdapter();
    const p = await startParley(env(), { log, extraAdapters: [adapter] });
    let written = false;
    p.engine.onTurn(async () => {
      await new Promise((r) => setTimeout(r, 200));
      await p.store.namespace<boolean>('listener-test').set('written', true);
      written = true;
    });
    await p.engine.deliver(adapter, adapter.message('hello'));
    await p.stop();
    expect(written).toBe(true);
  });

  it('cuts a reply short past the deadline, keeping its text and saying to ask again', async () => {
    const adapter = new MemoryAdapter();
    const p = await startParley(env({ SHUTDOWN_DEADLINE_MS: '200' }), { log, extraAdapters: [adapter] });
    fake.script({ chunks: Array.from({ length: 200 }, (_, i) => `w${i} `), chunkDelayMs: 20 });
    const m = adapter.message('long one');
    const answered = p.engine.deliver(adapter, m);
    await new Promise((r) => setTimeout(r, 150));
    await p.stop();
    await answered;
    expect(adapter.shown(m.id)).toMatch(/^w0 w1 .*\n\n_⚠️ Interrupted: Parley is restarting\. Please ask again in a moment\._$/s);
    expect(adapter.shown(m.id)).not.toContain('w199');
  });
});

describe('conversation lock across instances', () => {
  it('two engines on one Redis answer the same conversation one turn at a time', async () => {
    const keyPrefix = uniquePrefix('lock');
    const [s1, s2] = await Promise.all([openStore(REDIS_URL, { keyPrefix }), openStore(REDIS_URL, { keyPrefix })]);
    const llm = new LlmClient({ baseURL: fake.url, connectTimeoutMs: 2000, idleTimeoutMs: 2000, maxRetries: 0, log });
    const profile = { name: 'default', systemPrompt: 's', model: 'fake-model', fallbackModels: [], contextWindow: 8000, maxOutputTokens: 100 };
    const e1 = new Engine({ history: new HistoryStore(s1, { maxTurns: 20 }), lock: new ConversationLock(s1), llm, profile, log });
    const e2 = new Engine({ history: new HistoryStore(s2, { maxTurns: 20 }), lock: new ConversationLock(s2), llm, profile, log });
    const a1 = new MemoryAdapter();
    const a2 = new MemoryAdapter();
    fake.script({ text: 'slow answer one '.repeat(4), chunkDelayMs: 25 }, { text: 'answer two', chunkDelayMs: 5 });
    try {
      const [r1, r2] = await Promise.all([e1.deliver(a1, a1.message('first')), e2.deliver(a2, a2.message('second'))]);
      // The later turn's model call began only after the earlier turn had finished and saved.
      const calls = fake.chatRequests;
      expect(calls).toHaveLength(2);
      expect(calls[1]!.at).toBeGreaterThanOrEqual(Math.min(r1!.finishedAt, r2!.finishedAt));
      // …and it saw the earlier turn in its history.
      expect(calls[1]!.body.messages).toHaveLength(4);
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
  });
});
