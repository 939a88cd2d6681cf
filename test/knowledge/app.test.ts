import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCore } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { EXAMPLE_DIR } from './helpers.js';

let fake: FakeOpenAI;
let dir: string;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
  dir = mkdtempSync(join(tmpdir(), 'parley-app-'));
  mkdirSync(join(dir, 'other'));
  writeFileSync(join(dir, 'other/office.md'), '# Office\n\n## Opening hours\n\nThe Lisbon office opens at nine and closes at six on weekdays.\n');
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const configText = (sourcePath: string) => `
providers:
  fake: { baseUrl: ${fake.url}, apiKeyEnv: FAKE_KEY, maxRetries: 0 }
models:
  m1: { provider: fake, contextWindow: 16000, maxOutputTokens: 400 }
knowledge:
  sources:
    docs: { path: ${sourcePath}, url: https://docs.tallyho.example }
profiles:
  default: { model: m1 }
  strict: { model: m1, answerMode: grounded }
routing:
  - { name: strict-channel, match: { channel: CSTRICT }, profile: strict }
`;

describe('createCore with a config file', () => {
  it('wires routing, knowledge with links, the FAQ, degraded mode, and reloads knowledge sources on config change', async () => {
    const file = join(dir, 'parley.config.yaml');
    writeFileSync(file, configText(EXAMPLE_DIR));
    const config = loadConfig({ PARLEY_CONFIG: file, STORE_URL: 'memory://' });
    const core = await createCore(config, silentLogger(), undefined, { env: { FAKE_KEY: 'secret' }, watch: false });
    const adapter = new MemoryAdapter();
    try {
      // Knowledge cited by link (the source has a url), through the routed default profile.
      fake.script('Use the HMAC header [1].');
      const a = await core.engine.deliver(adapter, adapter.message('How do I verify webhook signatures?'));
      expect(a).toMatchObject({
        source: 'model',
        profile: 'default',
        citations: [{ location: 'https://docs.tallyho.example/api/webhooks.md#verifying-signatures' }],
      });
      expect(fake.chatRequests.at(-1)!.headers.authorization).toBe('Bearer secret');

      // The grounded profile of the routed channel says it does not know.
      const b = await core.engine.deliver(adapter, adapter.message('What is the capital of Peru?', { channel: 'CSTRICT', thread: 'T2' }));
      expect(b).toMatchObject({ source: 'declined', profile: 'strict' });

      // FAQ at zero cost.
      const calls = fake.chatRequests.length;
      const c = await core.engine.deliver(adapter, adapter.message('Is there a Linux app?', { thread: 'T3' }));
      expect(c!.source).toBe('faq');
      expect(fake.chatRequests.length).toBe(calls);

      // Model down: the best passage, quoted.
      fake.script({ status: 500 });
      const d = await core.engine.deliver(adapter, adapter.message('How long are backups kept?', { thread: 'T4' }));
      expect(d).toMatchObject({ source: 'knowledge', error: 'llm_server_error' });

      // A config edit that changes the sources rebuilds the knowledge base.
      writeFileSync(file, configText('other'));
      expect(core.live.reload()).toBe(true);
      await vi.waitFor(() => expect(core.knowledge.current?.sources[0]?.dir).toBe(join(dir, 'other')));
      fake.script('Nine to six [1].');
      const e = await core.engine.deliver(adapter, adapter.message('When does the Lisbon office open?', { thread: 'T5' }));
      expect(e!.citations).toEqual([expect.objectContaining({ location: 'https://docs.tallyho.example/office.md#opening-hours' })]);
    } finally {
      core.close();
      await core.store.close();
    }
  });

  it('a config reload changes the answer cache lifetime, not only whether it is on', async () => {
    const file = join(dir, 'parley.ttl.config.yaml');
    const withTtl = (seconds: number) => configText(EXAMPLE_DIR).replace('knowledge:\n', `knowledge:\n  cacheTtlSeconds: ${seconds}\n`);
    writeFileSync(file, withTtl(0));
    const config = loadConfig({ PARLEY_CONFIG: file, STORE_URL: 'memory://' });
    const core = await createCore(config, silentLogger(), undefined, { env: { FAKE_KEY: 'secret' }, watch: false });
    const adapter = new MemoryAdapter();
    try {
      expect(core.live.current.knowledge.cacheTtlSeconds).toBe(0);
      writeFileSync(file, withTtl(86_400));
      expect(core.live.reload()).toBe(true);
      expect(core.live.current.knowledge.cacheTtlSeconds).toBe(86_400);
      fake.script('Use the HMAC header [1].');
      const first = await core.engine.deliver(adapter, adapter.message('How do I verify webhook signatures?', { thread: 'TTL1' }));
      expect(first!.source).toBe('model');
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 60_000 }); // a minute later: well within a day
      try {
        const again = await core.engine.deliver(adapter, adapter.message('How do I verify webhook signatures?', { thread: 'TTL2' }));
        expect(again).toMatchObject({ source: 'cache', text: first!.text });
      } finally {
        vi.useRealTimers();
      }
    } finally {
      core.close();
      await core.store.close();
    }
  });

  it('a knowledge folder that cannot be read stops the start, naming the setting', async () => {
    const config = loadConfig({ KNOWLEDGE_DIR: join(dir, 'missing'), STORE_URL: 'memory://' });
    await expect(createCore(config, silentLogger(), undefined, { watch: false })).rejects.toMatchObject({ name: 'ConfigError', key: 'KNOWLEDGE_DIR' });
  });
});
