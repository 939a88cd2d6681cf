import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvError, loadConfig } from '../../../src/config/env.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { createHttpApiAdapter } from '../../../src/platforms/http-api/adapter.js';
import { hashApiKey } from '../../../src/platforms/http-api/keys.js';
import { HttpServer } from '../../../src/server/http.js';
import { TASK_STALE_MS, TaskStore } from '../../../src/platforms/http-api/tasks.js';
import { openStore, type Store } from '../../../src/store/store.js';

describe('API_KEYS', () => {
  it('reads name:sha256[:requestsPerMinute[:tokensPerDay]] entries', () => {
    const h = hashApiKey('secret-one');
    const config = loadConfig({ API_KEYS: `Widget:${h}:30:50000, tools:${hashApiKey('secret-two')}`, API_CORS_ORIGINS: 'https://a.example, *' });
    expect(config.api!.keys).toEqual([
      { name: 'widget', sha256: h, requestsPerMinute: 30, tokensPerDay: 50_000 },
      { name: 'tools', sha256: hashApiKey('secret-two'), requestsPerMinute: undefined, tokensPerDay: undefined },
    ]);
    expect(config.api!.corsOrigins).toEqual(['https://a.example', '*']);
    expect(loadConfig({}).api).toBeUndefined();
  });

  it('refuses a plain key instead of a hash, naming the variable and never echoing the value', () => {
    let error: unknown;
    try {
      loadConfig({ API_KEYS: 'widget:pk_live_plaintext_key' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).problems[0]!.key).toBe('API_KEYS');
    expect((error as Error).message).toContain('SHA-256');
    expect((error as Error).message).not.toContain('pk_live_plaintext_key');
  });
});

describe('TaskStore', () => {
  let store: Store;
  let now = 1_000_000;
  beforeEach(async () => {
    store = await openStore('memory://');
  });
  afterEach(() => store.close());

  it('reports a task left running by an instance that died as failed; a finished task stays as it is', async () => {
    const tasks = new TaskStore(store, 86_400_000, () => now);
    await tasks.create('t_a', 'key', 'c_a');
    await tasks.running('t_a');
    await tasks.completed('t_a', {
      conversationId: 'c_a',
      text: 'ok',
      source: 'model',
      citations: [],
      usage: { promptTokens: 1, completionTokens: 1 },
      model: 'm',
      profile: 'default',
      groundedness: null,
      finishReason: 'stop',
      incomplete: false,
    });

    await tasks.create('t_b', 'key', 'c_b');
    await tasks.running('t_b');
    now += TASK_STALE_MS + 1;
    expect(await tasks.get('t_b', 'key')).toMatchObject({ status: 'failed', error: { code: 'interrupted' } });
    expect((await tasks.get('t_a', 'key'))!.status).toBe('completed');
  });

  it('lets crash recovery fail a task its instance left running, with the partial answer as the reason', async () => {
    const log = silentLogger();
    const adapter = createHttpApiAdapter(
      { keys: [], corsOrigins: [], maxQuestionChars: 100, taskTtlMs: 86_400_000 },
      { log, store, http: new HttpServer(log) },
    );
    const tasks = new TaskStore(store, 86_400_000);
    await tasks.create('t_run', 'key', 'c_run');
    await tasks.running('t_run');
    await tasks.create('t_done', 'key', 'c_done');
    await tasks.failed('t_done', { code: 'llm_timeout', message: 'earlier failure' });

    for (const task of ['t_run', 't_done']) {
      const surface = await adapter.resumeReply({ task });
      await surface.complete!({ text: 'Half an answer\n\n_⚠️ Interrupted_', source: 'error' }, []);
    }
    expect(await tasks.get('t_run', 'key')).toMatchObject({ status: 'failed', error: { code: 'interrupted', message: 'Half an answer\n\n_⚠️ Interrupted_' } });
    expect(await tasks.get('t_done', 'key')).toMatchObject({ status: 'failed', error: { code: 'llm_timeout' } });
    await expect(adapter.resumeReply({ channel: 'C1' })).rejects.toThrow(/not an HTTP API task/);
  });
});
