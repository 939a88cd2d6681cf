import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { conversationKey } from '../../src/kernel/types.js';
import { BUILTIN_DETECTORS, isCardNumber, redact } from '../../src/guardrails/redact.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { everythingSent, lastQuestionSent, rig, WhisperingAdapter } from './harness.js';

interface Secret {
  kind: string;
  text: string;
  secret: string;
}
const corpus = (name: string) => JSON.parse(readFileSync(new URL(`./corpus/${name}`, import.meta.url), 'utf8'));
const secrets: Secret[] = corpus('secrets.json');
const lookalikes: string[] = corpus('lookalikes.json');

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());

describe('the corpora', () => {
  it('hold at least 50 secrets and cards and 50 look-alikes', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(50);
    expect(secrets.filter((s) => s.kind === 'card').length).toBeGreaterThanOrEqual(15);
    expect(lookalikes.length).toBeGreaterThanOrEqual(50);
  });

  it('Luhn-checks cards: a real test number passes, the same number with one digit changed does not', () => {
    expect(isCardNumber('4111111111111111')).toBe(true);
    expect(isCardNumber('4111111111111112')).toBe(false);
    // Luhn-valid but no card brand starts with 0.
    expect(isCardNumber('0000000000000000')).toBe(false);
  });
});

describe('redaction through the engine', () => {
  let store: Store;
  let adapter: WhisperingAdapter;
  beforeEach(async () => {
    store = await openStore('memory://');
    adapter = new WhisperingAdapter();
    fake.requests.length = 0;
  });
  afterEach(() => store.close());

  it.each(secrets.map((s, i) => ({ ...s, i })))('#$i ($kind): never reaches the model or the history', async (s) => {
    const { ask, history } = rig({ store, fake });
    const m = adapter.message(s.text, { thread: `T${s.i}` });
    const r = await ask(adapter, m);
    expect(fake.chatRequests).toHaveLength(1);
    expect(everythingSent(fake)).not.toContain(JSON.stringify(s.secret).slice(1, -1));
    expect(lastQuestionSent(fake)).toMatch(/\[[\w -]+ removed\]/);
    const stored = await history.load(conversationKey(m));
    expect(stored[0]!.content).toBe(lastQuestionSent(fake));
    expect(JSON.stringify(stored)).not.toContain(JSON.stringify(s.secret).slice(1, -1));
    // The asker is told something was removed.
    expect(r!.text).toMatch(/I removed .+ from your message before sending it to the model/);
  });

  it.each(lookalikes.map((text, i) => ({ text, i })))('look-alike #$i reaches the model unchanged: $text', async ({ text, i }) => {
    const { ask, history } = rig({ store, fake });
    const m = adapter.message(text, { thread: `L${i}` });
    const r = await ask(adapter, m);
    expect(lastQuestionSent(fake)).toBe(text);
    expect((await history.load(conversationKey(m)))[0]!.content).toBe(text);
    expect(r!.text).not.toMatch(/I removed/);
  });

  it('in refuse mode declines privately, calls no model and stores nothing', async () => {
    const { ask, history } = rig({ store, fake, settings: { redaction: { mode: 'refuse' } } });
    const m = adapter.message('deploy with AKIAIOSFODNN7EXAMPLE please', { channel: 'C9' });
    const r = await ask(adapter, m);
    expect(fake.chatRequests).toHaveLength(0);
    expect(r!.source).toBe('declined');
    expect(adapter.noted(m.id)).toBe(
      'Your message seems to contain an AWS key, so I did not send it to the model and did not store it. Please remove it and ask again.',
    );
    expect(adapter.shown(m.id)).toBe('I sent you a private note about this message.');
    expect(await history.load(conversationKey(m))).toEqual([]);
  });

  it('applies per-profile patterns: phone numbers, national ids and words in several languages', async () => {
    const { ask } = rig({
      store,
      fake,
      settings: {
        redaction: {
          // The built-in SSN detector is switched off so the profile's own pattern is the one that applies.
          disabled: ['us_ssn'],
          patterns: [
            // In order: the narrower pattern first.
            { name: 'national id', regex: String.raw`\b\d{3}-\d{2}-\d{4}\b` },
            { name: 'phone', regex: String.raw`\+?\d[\d ()-]{7,}\d` },
            { name: 'codename', words: ['Project Falcon', 'Проект Сокол', '機密', 'geheimnis'] },
          ],
        },
      },
    });
    await ask(adapter, adapter.message('Call +44 20 7946 0958 about 078-05-1120 and project falcon, Проект Сокол, 機密資料, GEHEIMNIS! Not geheimnisvoll.'));
    expect(lastQuestionSent(fake)).toBe(
      'Call [phone removed] about [national id removed] and [codename removed], [codename removed], [codename removed]資料, [codename removed]! Not geheimnisvoll.',
    );
  });

  it('switches off a built-in detector by name', () => {
    const text = 'session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(redact(text, BUILTIN_DETECTORS).text).toBe('session [token removed]');
    expect(
      redact(
        text,
        BUILTIN_DETECTORS.filter((d) => d.name !== 'jwt'),
      ).text,
    ).toBe(text);
  });

  it('redacts secrets in a text attachment before it becomes context', async () => {
    const { ask } = rig({ store, fake });
    const file = 'config:\n  OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7CD0EF\n  region: eu\n';
    const m = adapter.message('why does this config fail?', {
      attachments: [{ name: 'app.env', contentType: 'text/plain', sizeBytes: file.length, load: async () => Buffer.from(file) }],
    });
    const r = await ask(adapter, m);
    const sent = everythingSent(fake);
    expect(sent).toContain('region: eu');
    expect(sent).toContain('OPENAI_API_KEY=[API key removed]');
    expect(sent).not.toContain('sk-proj-');
    expect(r!.text).toMatch(/I removed an API key/);
  });

  it('redacts merged messages of one turn and keeps earlier history redacted on later turns', async () => {
    const { ask } = rig({ store, fake });
    await ask(adapter, adapter.message('my card 4111 1111 1111 1111 was charged twice'));
    await ask(adapter, adapter.message('what should I do?'));
    const sent = everythingSent(fake);
    expect(sent).toContain('my card [card number removed] was charged twice');
    expect(sent).not.toContain('4111');
  });
});
