import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { loadConfigFile } from '../../src/config/file.js';
import { resolveSettings, type Settings } from '../../src/config/settings.js';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { ProviderRouter } from '../../src/llm/providers.js';
import { route, routingMiddleware } from '../../src/routing/router.js';
import { HistoryStore } from '../../src/store/history.js';
import { openStore } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';

const yaml = (url: string) => `
providers:
  main: { baseUrl: ${url} }
models:
  small: { provider: main }
  large: { provider: main, maxOutputTokens: 700 }
profiles:
  default: { model: small }
  legal: { model: large, temperature: 0, seed: 42, topP: 0.5, systemPrompt: Legal assistant. }
  billing: { model: large, temperature: 0.2 }
  slackops: { model: small }
routing:
  - name: legal-channel
    match: { platform: slack, channel: [C0LEGAL, C0CONTRACTS] }
    profile: legal
  - name: legal-command
    match: { command: legal }
    profile: legal
  - name: billing-words
    match: { keywords: [refund, invoice, "credit card"] }
    profile: billing
  - name: gdpr-regex
    match: { regex: '\\bgdpr\\b|data processing' }
    profile: legal
  - name: ops-workspace
    match: { platform: slack, workspace: T0OPS }
    profile: slackops
`;

function settingsFor(url: string): Settings {
  return resolveSettings(loadConfig({}), loadConfigFile('parley.config.yaml', {}, yaml(url)), process.cwd());
}

describe('routing rules', () => {
  const s = settingsFor('http://127.0.0.1:9/v1');
  const at = (o: Partial<{ platform: string; workspace: string; channel: string; command: string; profile: string }> = {}) => ({
    platform: 'slack',
    workspace: 'T01',
    channel: 'C1',
    ...o,
  });

  it('first match wins: the channel rule beats a keyword rule further down', () => {
    const r = route(s, at({ channel: 'C0LEGAL' }), 'Can I get a refund?');
    expect([r.rule?.name, r.profile.name, r.index]).toEqual(['legal-channel', 'legal', 0]);
    expect(route(s, at(), 'Can I get a refund?').rule?.name).toBe('billing-words');
  });

  it('every condition of a rule must hold: the legal channel on Discord is not the Slack legal channel', () => {
    expect(route(s, at({ platform: 'discord', channel: 'C0LEGAL' }), 'hello').profile.name).toBe('default');
    expect(route(s, at({ channel: 'C0CONTRACTS' }), 'hello').profile.name).toBe('legal');
  });

  it('matches slash commands, whole keywords and phrases (ignoring case and plurals), and regexes', () => {
    expect(route(s, at({ command: 'legal' }), 'anything').rule?.name).toBe('legal-command');
    expect(route(s, at(), 'Two INVOICES are wrong').rule?.name).toBe('billing-words');
    expect(route(s, at(), 'my credit   card was charged').rule?.name).toBe('billing-words');
    // Whole words only: "refundable" is not "refund".
    expect(route(s, at(), 'Is this refundable?').rule).toBeUndefined();
    expect(route(s, at(), 'Do you sign a Data Processing agreement?').rule?.name).toBe('gdpr-regex');
    expect(route(s, at({ workspace: 'T0OPS' }), 'status?').rule?.name).toBe('ops-workspace');
  });

  it('a profile requested by name answers before any rule; an unknown name is ignored', () => {
    expect(route(s, at({ channel: 'C0LEGAL', profile: 'billing' }), 'Can I get a refund?').profile.name).toBe('billing');
    expect(route(s, at({ channel: 'C0LEGAL', profile: 'nope' }), 'hello').rule?.name).toBe('legal-channel');
  });

  it('falls back to the default profile when nothing matches', () => {
    const r = route(s, at({ platform: 'console', workspace: 'local', channel: 'terminal' }), 'How do I start a timer?');
    expect(r.rule).toBeUndefined();
    expect(r.profile.name).toBe('default');
  });
});

describe('routing in the engine', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
  });

  it("answers with the routed profile's model, prompt and sampling settings", async () => {
    const s = settingsFor(fake.url);
    const store = await openStore('memory://');
    const log = silentLogger();
    const engine = new Engine({
      history: new HistoryStore(store, { maxTurns: 10 }),
      llm: new ProviderRouter(() => s, log),
      profile: s.profiles.get('default')!,
      log,
    });
    engine.use(routingMiddleware(() => s));
    const adapter = new MemoryAdapter();
    const r = await engine.deliver(adapter, adapter.message('Is GDPR covered?'));
    expect(r!.profile).toBe('legal');
    expect(fake.chatRequests[0]!.body).toMatchObject({ model: 'large', temperature: 0, seed: 42, top_p: 0.5, max_tokens: 700 });
    expect(fake.chatRequests[0]!.body.messages[0].content).toBe('Legal assistant.');

    await engine.deliver(adapter, adapter.message('How do I start a timer?', { thread: 'T2' }));
    expect(fake.chatRequests[1]!.body.model).toBe('small');
    await store.close();
  });
});
