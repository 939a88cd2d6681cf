import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blockedTermsFilter, neutralizeMassMentions } from '../../src/guardrails/output.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import type { MemoryAdapter } from '../fakes/memory-adapter.js';
import { rig, WhisperingAdapter } from './harness.js';

const attempts: string[] = JSON.parse(readFileSync(new URL('./corpus/mass-mentions.json', import.meta.url), 'utf8'));

/** Would this text ping a crowd on Slack or Discord, or after NFKC folding by a bridge? */
function pings(text: string): boolean {
  const folded = text.normalize('NFKC').toLowerCase();
  return (
    /@(everyone|here|channel)/.test(folded) ||
    /<!(channel|here|everyone|subteam\^)/i.test(text) ||
    /<@&\d+>/.test(text) ||
    /&lt;!(channel|here|everyone|subteam\^)|(&#0*64;|&#x0*40;|&commat;)(everyone|here|channel)/i.test(text)
  );
}

/** Every text every message of the reply ever showed. */
function allVersions(adapter: MemoryAdapter, id: string): string[] {
  return adapter.replies.get(id)!.messages.flatMap((m) => m.versions);
}

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());

describe('neutralizeMassMentions', () => {
  it('has a corpus of at least 40 attempts in plain, escaped and look-alike forms', () => {
    expect(attempts.length).toBeGreaterThanOrEqual(40);
    // The detector used by these tests catches every raw attempt (so it can catch a miss).
    for (const a of attempts.filter((x) => !/[еоһсε𝐞ⓔ]/u.test(x))) expect(pings(a), a).toBe(true);
  });

  it.each(attempts)('neutralises %j, keeping it readable, idempotently', (attempt) => {
    const out = neutralizeMassMentions(attempt);
    expect(pings(out)).toBe(false);
    expect(out).toMatch(/@\u200b[\w-]+/);
    expect(neutralizeMassMentions(out)).toBe(out);
  });

  it.each([
    'email support@example.com for help',
    'ask <@U0123ABC> or <@123456789012345678>',
    'see <#C0123ABC|general>',
    'everyone here is welcome in the channel',
    '@alice and @bob',
    'price: 5 @ $3',
  ])('leaves ordinary text alone: %j', (text) => {
    expect(neutralizeMassMentions(text)).toBe(text);
  });
});

describe('output safety through the renderer', () => {
  let store: Store;
  let adapter: WhisperingAdapter;
  beforeEach(async () => {
    store = await openStore('memory://');
    fake.requests.length = 0;
    // A failed test must not leave its scripted replies to the next one.
    (fake as unknown as { scripts: unknown[] }).scripts.length = 0;
  });
  afterEach(() => store.close());

  for (const native of [false, true]) {
    it(`no version of any message pings a crowd, even when the mention is split across chunks (${native ? 'native stream' : 'post/edit'})`, async () => {
      adapter = new WhisperingAdapter(true, { native, latencyMs: 1 });
      const { ask } = rig({ store, fake, settings: { rateLimits: { perUser: null } } });
      let partials = 0;
      for (const [i, attempt] of attempts.entries()) {
        // One to three characters per chunk: every prefix of the attempt is shown at some point.
        const text = `Sure. ${attempt} Done.`;
        const chunks = [...text].reduce<string[]>((acc, ch, k) => (k % 2 ? ((acc[acc.length - 1] += ch), acc) : [...acc, ch]), []);
        fake.script({ chunks, chunkDelayMs: 2 });
        const m = adapter.message('say it', { thread: `M${i}-${native}` });
        await ask(adapter, m);
        const versions = allVersions(adapter, m.id);
        partials += versions.length - 1;
        for (const v of versions) expect(pings(v), `${attempt} → ${JSON.stringify(v)}`).toBe(false);
        expect(adapter.shown(m.id)).toBe(`Sure. ${neutralizeMassMentions(attempt)} Done.`);
      }
      // Partial text was really shown (the check above is not only about final texts).
      expect(partials).toBeGreaterThan(attempts.length);
    });
  }

  it('hides blocked terms in every partial and final version, ignoring case, in any language', async () => {
    adapter = new WhisperingAdapter(true, { latencyMs: 1 });
    const { ask } = rig({ store, fake, settings: { output: { blockedTerms: ['Voldemort', 'secret sauce', 'Schweinehund', '禁止語'] } } });
    const text = 'He is VOLDEMORT. Our secret sauce is love. Kein Schweinehund. これは禁止語です。 Voltage is fine.';
    const chunks = [...text].map((c) => c);
    fake.script({ chunks, chunkDelayMs: 1 });
    const m = adapter.message('tell me');
    await ask(adapter, m);
    const versions = allVersions(adapter, m.id);
    expect(versions.length).toBeGreaterThan(3);
    for (const v of versions) {
      expect(v).not.toMatch(/vold|secret s|schwein|禁止語/i);
    }
    expect(adapter.shown(m.id)).toBe('He is [removed]. Our [removed] is love. Kein [removed]. これは[removed]です。 Voltage is fine.');
  });

  it('holds back a trailing word only while it could still become a blocked term', () => {
    const filter = blockedTermsFilter(['Voldemort'], '[removed]');
    expect(filter('He is Vol')).toBe('He is ');
    expect(filter('He is Volt')).toBe('He is Volt');
    expect(filter('He is Voldemort')).toBe('He is [removed]');
    expect(filter('an involved case')).toBe('an involved case');
  });
});
