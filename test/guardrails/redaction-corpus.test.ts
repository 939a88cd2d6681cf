import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_DETECTORS, chineseIdCheck, isValidChineseId, isValidNino, isValidSsn } from '../../src/guardrails/redact-ids.js';
import { BUILTIN_DETECTORS, redact } from '../../src/guardrails/redact.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { lastQuestionSent, rig, WhisperingAdapter } from './harness.js';

/**
 * The "as people write" corpora (secrets.yaml, lookalikes.yaml): each entry's split was fixed
 * by a hash of its text before any tuning; detectors were tuned on `tune` only. This file
 * measures both halves through the engine (what the fake model receives) and asserts the
 * held-out targets: every secret kept from the model, at least 98% of look-alikes unchanged.
 * `npx vitest run test/guardrails/redaction-corpus.test.ts` prints the figures.
 */

type Split = 'tune' | 'heldout';
interface Entry {
  kind: string;
  lang: 'en' | 'zh';
  split: Split;
  /** 1: written before any tuning; 2 and 3: each written after the previous batch's held-out run and the fixes it led to. */
  batch: 1 | 2 | 3;
  text: string;
}
interface SecretEntry extends Entry {
  secret: string;
}
const load = <T>(name: string): T[] => parse(readFileSync(new URL(`./corpus/${name}`, import.meta.url), 'utf8')) as T[];
const secrets = load<SecretEntry>('secrets.yaml');
const lookalikes = load<Entry>('lookalikes.yaml');

/** The split rule the corpora were written with: the first byte of sha256(text), even → tune. */
const splitOf = (text: string): Split => (createHash('sha256').update(text).digest()[0]! % 2 === 0 ? 'tune' : 'heldout');

/** The messages of the last model request but the system prompt (whose words would count as leaks of "test"). */
const sentMessages = (fake: FakeOpenAI): string =>
  JSON.stringify((fake.chatRequests.at(-1)!.body.messages as { role: string }[]).filter((m) => m.role !== 'system'));

/**
 * Whether any part of `secret` reached the model: the secret itself, or any 4+ character run of
 * its letters and digits that the rest of the question does not contain anyway.
 */
function leaked(sent: string, e: SecretEntry): boolean {
  const rest = e.text.split(String(e.secret)).join(' ');
  const esc = (s: string) => JSON.stringify(s).slice(1, -1);
  if (sent.includes(esc(e.secret))) return true;
  return (String(e.secret).match(/[\p{L}\p{N}]{4,}/gu) ?? []).some((run) => !rest.includes(run) && sent.includes(esc(run)));
}

interface Figures {
  secretsKept: number;
  secrets: number;
  lookalikesUnchanged: number;
  lookalikes: number;
  leaks: string[];
  altered: string[];
}
type Group = `${Split} batch ${1 | 2 | 3}`;
const results = {} as Record<Group, Figures>;
const groupOf = (e: Entry): Figures =>
  (results[`${e.split} batch ${e.batch}`] ??= { secretsKept: 0, secrets: 0, lookalikesUnchanged: 0, lookalikes: 0, leaks: [], altered: [] });
/** The held-out half of every batch. */
const heldout = (): Figures => {
  const parts = [results['heldout batch 1'], results['heldout batch 2'], results['heldout batch 3']];
  const sum = (k: 'secretsKept' | 'secrets' | 'lookalikesUnchanged' | 'lookalikes') => parts.reduce((n, f) => n + (f?.[k] ?? 0), 0);
  return {
    secretsKept: sum('secretsKept'),
    secrets: sum('secrets'),
    lookalikesUnchanged: sum('lookalikesUnchanged'),
    lookalikes: sum('lookalikes'),
    leaks: parts.flatMap((f) => f?.leaks ?? []),
    altered: parts.flatMap((f) => f?.altered ?? []),
  };
};
const pct = (n: number, d: number) => `${((100 * n) / d).toFixed(1)}%`;

let fake: FakeOpenAI;
let store: Store;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
  store = await openStore('memory://');
  // No rate limit: 278 questions from one user in a minute is this test, not abuse.
  const { ask } = rig({ store, fake, settings: { rateLimits: { perUser: null } } });
  const adapter = new WhisperingAdapter();
  let n = 0;
  // Sequential: one request at a time, so "the last request" is this entry's.
  for (const e of secrets) {
    const before = fake.chatRequests.length;
    await ask(adapter, adapter.message(e.text, { thread: `S${n++}` }));
    // A question that was declined never reached the model: that would prove nothing here.
    if (fake.chatRequests.length !== before + 1) throw new Error(`no model call for: ${e.text}`);
    const f = groupOf(e);
    f.secrets++;
    if (leaked(sentMessages(fake), e)) f.leaks.push(`${e.text} -> ${lastQuestionSent(fake)}`);
    else f.secretsKept++;
  }
  for (const e of lookalikes) {
    const before = fake.chatRequests.length;
    await ask(adapter, adapter.message(e.text, { thread: `L${n++}` }));
    if (fake.chatRequests.length !== before + 1) throw new Error(`no model call for: ${e.text}`);
    const f = groupOf(e);
    f.lookalikes++;
    if (lastQuestionSent(fake) === e.text) f.lookalikesUnchanged++;
    else f.altered.push(`${e.text} -> ${lastQuestionSent(fake)}`);
  }
}, 120_000);
afterAll(async () => {
  await store?.close();
  await fake?.close();
});

describe('the "as people write" corpora', () => {
  it('hold at least 100 secrets and 100 look-alikes, in English and Chinese, each split by the hash rule', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(100);
    expect(lookalikes.length).toBeGreaterThanOrEqual(100);
    for (const lang of ['en', 'zh']) {
      expect(secrets.filter((e) => e.lang === lang).length).toBeGreaterThanOrEqual(30);
      expect(lookalikes.filter((e) => e.lang === lang).length).toBeGreaterThanOrEqual(30);
    }
    for (const e of [...secrets, ...lookalikes]) expect(e.split, e.text).toBe(splitOf(e.text));
    // YAML reads an unquoted 0931 as the number 931: every text field must have stayed a string.
    for (const e of [...secrets, ...lookalikes]) {
      for (const [k, v] of Object.entries(e)) if (k !== 'batch') expect(typeof v, e.text).toBe('string');
      expect([1, 2, 3]).toContain(e.batch);
    }
    for (const e of secrets) expect(e.text).toContain(e.secret);
    expect(new Set(secrets.map((e) => e.text)).size).toBe(secrets.length);
    expect(new Set(lookalikes.map((e) => e.text)).size).toBe(lookalikes.length);
  });

  it('held-out half: 100% of secrets kept from the model, at least 98% of look-alikes unchanged', () => {
    const report: [string, Figures][] = [...Object.entries(results).sort(), ['heldout, all batches', heldout()]];
    for (const [name, f] of report) {
      console.log(
        `redaction corpus [${name}]: secrets kept from the model ${f.secretsKept}/${f.secrets} (${pct(f.secretsKept, f.secrets)}), ` +
          `look-alikes unchanged ${f.lookalikesUnchanged}/${f.lookalikes} (${pct(f.lookalikesUnchanged, f.lookalikes)})` +
          [...f.leaks.map((l) => `\n  leaked: ${l}`), ...f.altered.map((a) => `\n  altered: ${a}`)].join(''),
      );
    }
    const h = heldout();
    expect(Object.values(results).reduce((n, f) => n + f.secrets, 0)).toBe(secrets.length);
    expect(h.leaks).toEqual([]);
    expect(h.secretsKept).toBe(h.secrets);
    expect(h.lookalikesUnchanged / h.lookalikes).toBeGreaterThanOrEqual(0.98);
  });

  it('national ID rules: false-positive rate on every look-alike (and on the ID-shaped ones)', () => {
    const flagged = (e: Entry) => redact(e.text, ID_DETECTORS).findings.length > 0;
    const all = lookalikes.filter(flagged);
    const shaped = lookalikes.filter((e) => e.kind === 'id_shape');
    console.log(
      `national ID rules: ${all.length}/${lookalikes.length} look-alikes flagged (${pct(all.length, lookalikes.length)}); ` +
        `${shaped.filter(flagged).length}/${shaped.length} ID-shaped look-alikes (order, phone, tracking, invoice numbers, dates) flagged` +
        all.map((e) => `\n  flagged: ${e.text}`).join(''),
    );
    expect(shaped.length).toBeGreaterThanOrEqual(50);
    // And they find every national ID in the secrets corpus.
    const ids = secrets.filter((e) => ['us_ssn', 'cn_resident_id', 'uk_nino'].includes(e.kind));
    expect(ids.filter((e) => !flagged(e)).map((e) => e.text)).toEqual([]);
    expect(all.length / lookalikes.length).toBeLessThanOrEqual(0.02);
  });
});

describe('national ID rules', () => {
  it('on random numbers of each shape: how many pass (printed; the shape is the signal only for SSNs)', () => {
    // A fixed-seed generator: the same numbers every run.
    let seed = 18;
    const digit = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor((seed / 2 ** 31) * 10));
    const letter = () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[(digit() * 10 + digit()) % 26]!;
    const digits = (n: number) => Array.from({ length: n }, digit).join('');
    const rate = (make: () => string) => {
      const n = 10_000;
      let hit = 0;
      for (let i = 0; i < n; i++) if (redact(`order ${make()} shipped`, ID_DETECTORS).findings.length) hit++;
      return hit / n; // printed as a count of 10,000
    };
    const cn18 = rate(() => digits(18));
    const cnDated = rate(() => `${digits(6)}19${digits(2)}0${1 + (digit() % 9)}1${digit() % 9}${digits(4)}`);
    const ssn = rate(() => `${digits(3)}-${digits(2)}-${digits(4)}`);
    const ssnBare = rate(() => digits(9));
    const nino = rate(() => `${letter()}${letter()}${digits(6)}${letter()}`);
    console.log(
      `national ID rules on 10,000 random look-alikes each: 18 digits ${Math.round(cn18 * 1e4)}/10000, 18 digits with a real-looking date ${Math.round(cnDated * 1e4)}/10000, ` +
        `3-2-4 dashed ${Math.round(ssn * 1e4)}/10000, 9 bare digits (no "SSN" nearby) ${Math.round(ssnBare * 1e4)}/10000, two letters + 6 digits + letter ${Math.round(nino * 1e4)}/10000`,
    );
    expect(cn18).toBeLessThan(0.005);
    expect(ssnBare).toBe(0);
    expect(nino).toBeLessThan(0.15);
  });

  it('SSN: invalid areas, groups and serials are not SSNs', () => {
    expect(isValidSsn('536', '90', '4421')).toBe(true);
    for (const [a, g, s] of [
      ['000', '12', '3456'],
      ['666', '12', '3456'],
      ['900', '12', '3456'],
      ['999', '12', '3456'],
      ['123', '00', '4567'],
      ['123', '45', '0000'],
    ]) {
      expect(isValidSsn(a!, g!, s!), `${a}-${g}-${s}`).toBe(false);
    }
    expect(redact('ssn 666-12-3456 and 536-90-4421', BUILTIN_DETECTORS).text).toBe('ssn 666-12-3456 and [national ID removed]');
  });

  it('Chinese resident ID: the ISO 7064 MOD 11-2 check character, a real birth date and province', () => {
    expect(chineseIdCheck('11010519491231002')).toBe('X');
    expect(isValidChineseId('11010519491231002X')).toBe(true);
    expect(isValidChineseId('11010519491231002x')).toBe(true);
    expect(isValidChineseId('110105194912310020')).toBe(false); // wrong check character
    expect(isValidChineseId(`43010220010229334${chineseIdCheck('43010220010229334')}`)).toBe(false); // 29 February 2001
    expect(isValidChineseId(`99010519491231002${chineseIdCheck('99010519491231002')}`)).toBe(false); // no province 99
  });

  it('UK NI number: prefix letters and suffix', () => {
    expect(isValidNino('AB', 'C')).toBe(true);
    for (const p of ['DA', 'FA', 'IA', 'QQ', 'UA', 'VA', 'AD', 'AO', 'BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ']) expect(isValidNino(p, 'A'), p).toBe(false);
    expect(isValidNino('AB', 'E')).toBe(false);
    expect(redact('NI AB 12 34 56 C, not QQ123456C', BUILTIN_DETECTORS).text).toBe('NI [national ID removed], not QQ123456C');
  });
});

describe('code that only names a secret', () => {
  it.each([
    'const key = process.env.X_API_KEY;',
    'api_key = os.environ["X_API_KEY"]',
    'token: ${API_KEY}',
    'PASSWORD=$SECRET ./run.sh',
    'OPENAI_API_KEY=sk-...',
    'api_key: <your-key>',
    'password: xxxx',
    'export API_KEY=YOUR_API_KEY',
    'password: changeme',
  ])('%s is left alone', (text) => {
    expect(redact(text, BUILTIN_DETECTORS).text).toBe(text);
  });

  it('but the same lines with a real value are redacted', () => {
    expect(redact('api_key = "9f8e7d6c5b4a3928"', BUILTIN_DETECTORS).text).toBe('api_key = "[password removed]"');
    expect(redact('PASSWORD=Gr8Sc0tt! ./run.sh', BUILTIN_DETECTORS).text).toBe('PASSWORD=[password removed] ./run.sh');
  });
});
