import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { loadConfigFile } from '../../src/config/file.js';
import { resolveSettings, type Settings } from '../../src/config/settings.js';
import { LlmError } from '../../src/kernel/errors.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { LlmClient } from '../../src/llm/client.js';
import { ProviderRouter } from '../../src/llm/providers.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { pino } from 'pino';

let a: FakeOpenAI;
let b: FakeOpenAI;
beforeAll(async () => {
  [a, b] = await Promise.all([FakeOpenAI.start(), FakeOpenAI.start()]);
});
afterAll(async () => {
  await Promise.all([a.close(), b.close()]);
});
beforeEach(() => {
  a.requests.length = 0;
  b.requests.length = 0;
});

function settings(env: Record<string, string> = { A_KEY: 'key-a' }): Settings {
  const text = `
providers:
  alpha: { baseUrl: ${a.url}, apiKeyEnv: A_KEY, maxRetries: 1 }
  beta: { baseUrl: ${b.url}, maxRetries: 0 }
models:
  big: { provider: alpha, id: vendor/big-2025, fallbacks: [small, tiny] }
  small: { provider: beta }
  tiny: { provider: alpha }
`;
  return resolveSettings(loadConfig({}), loadConfigFile('parley.config.yaml', env, text), process.cwd());
}

const log = silentLogger();
const router = (s: Settings) =>
  new ProviderRouter(
    () => s,
    log,
    (p, l) =>
      new LlmClient({
        baseURL: p.baseURL,
        apiKey: p.apiKey,
        connectTimeoutMs: 2_000,
        idleTimeoutMs: 2_000,
        maxRetries: p.maxRetries,
        backoffBaseMs: 1,
        log: l,
      }),
  );

async function collect(r: ProviderRouter, model: string, fallbackModels: string[] = []): Promise<{ text: string; model?: string }> {
  let text = '';
  let done: string | undefined;
  for await (const ev of r.stream({ messages: [{ role: 'user', content: 'hi' }], model, fallbackModels })) {
    if (ev.type === 'delta') text += ev.text;
    else done = ev.model;
  }
  return { text, model: done };
}

describe('provider router', () => {
  it("sends each model to its provider, under the provider's id, with that provider's key", async () => {
    const r = router(settings());
    expect(await collect(r, 'big')).toEqual({ text: 'You asked: hi', model: 'vendor/big-2025' });
    expect(a.chatRequests[0]!.body.model).toBe('vendor/big-2025');
    expect(a.chatRequests[0]!.headers.authorization).toBe('Bearer key-a');
    await collect(r, 'small');
    expect(b.chatRequests).toHaveLength(1);
    expect(b.chatRequests[0]!.body.model).toBe('small');
  });

  it('falls back across providers when a model keeps failing before its first token', async () => {
    a.script({ status: 500 }, { status: 500 });
    b.script('from beta');
    const s = settings();
    const res = await collect(router(s), 'big', s.models.get('big')!.fallbacks);
    expect(res).toEqual({ text: 'from beta', model: 'small' });
    expect(a.chatRequests).toHaveLength(2); // alpha's own retry first
    expect(b.chatRequests).toHaveLength(1);
  });

  it('fails with the last error when every model in the chain fails', async () => {
    a.script({ status: 500 }, { status: 500 }, { status: 503 }, { status: 503 });
    b.script({ status: 500 });
    const s = settings();
    await expect(collect(router(s), 'big', s.models.get('big')!.fallbacks)).rejects.toMatchObject({ code: 'llm_server_error', status: 503 });
  });

  it('skips a provider whose key variable is not set (its models are unavailable)', async () => {
    const s = settings({});
    const r = router(s);
    expect(r.canServe({ model: 'tiny' })).toBe(false);
    expect(r.canServe({ model: 'big', fallbackModels: ['small'] })).toBe(true);
    b.script('beta answers');
    expect(await collect(r, 'big', ['small'])).toEqual({ text: 'beta answers', model: 'small' });
    expect(a.chatRequests).toHaveLength(0);
    await expect(collect(r, 'tiny')).rejects.toBeInstanceOf(LlmError);
  });

  it('logs "trying the next fallback" only when there is a next model', async () => {
    const lines: string[] = [];
    const capture = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const s = settings();
    const r = new ProviderRouter(
      () => s,
      capture,
      (p, l) => new LlmClient({ baseURL: p.baseURL, apiKey: p.apiKey, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 0, backoffBaseMs: 1, log: l }),
    );
    b.script({ status: 500 });
    await expect(collect(r, 'small')).rejects.toMatchObject({ code: 'llm_server_error' });
    expect(lines.filter((l) => l.includes('trying the next fallback'))).toHaveLength(0);

    a.script({ status: 500 }, { status: 500 });
    b.script('from beta');
    await collect(r, 'big', ['small']);
    expect(lines.filter((l) => l.includes('trying the next fallback'))).toHaveLength(1);
  });
});
