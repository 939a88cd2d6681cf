import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCore } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { loadEvalFile, runEval, type EvalReport } from '../../src/quality/eval.js';
import { holdsFact, type Tally } from '../../src/knowledge/eval-support.js';
import { FakeOpenAI, type RecordedRequest } from '../fakes/openai-server.js';
import { EXAMPLE_DIR } from './helpers.js';

/**
 * Issue 16's targets on the HELD-OUT half of examples/eval/customers.yaml (the settings were
 * learnt on the tune half only). The fake model follows the grounded prompt's instruction as a
 * careful reader would: it answers only with the case's fact when a passage it was given holds
 * that fact (citing that passage), and otherwise says it does not know. So "declined" here
 * checks the mechanism (nothing relevant → decline, decline reaches the asker), not a model's judgement.
 */
const file = loadEvalFile(resolve(import.meta.dirname, '../../examples/eval/customers.yaml'));
/** Written blind after the settings were tuned on customers.yaml's tune half; all of it is held out. */
const fresh = loadEvalFile(resolve(import.meta.dirname, '../../examples/eval/customers-fresh.yaml'));
const factOf = new Map([...file.cases, ...fresh.cases].map((c) => [c.question, c.fact]));

/** The fake reader: the fact, cited as the passage that holds it; else a decline. */
function reader(req: RecordedRequest): { text: string } {
  const messages = req.body.messages as { role: string; content: string }[];
  const question = [...messages].reverse().find((m) => m.role === 'user')!.content;
  const system = messages
    .filter((m) => m.role === 'system')
    .map((m) => m.content)
    .join('\n');
  const fact = factOf.get(question);
  const passages = system.split(/\n(?=\[\d+\] )/).flatMap((p) => {
    const m = /^\[(\d+)\] /.exec(p);
    return m ? [{ n: Number(m[1]), text: p }] : [];
  });
  const holding = fact ? passages.find((p) => holdsFact(p.text, fact)) : undefined;
  if (holding) return { text: `${fact} [${holding.n}]` };
  return { text: "I don't know — the passages do not cover this. I can ask a person on the team." };
}

let fake: FakeOpenAI;
let dir: string;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
  fake.defaultReply = reader;
  dir = mkdtempSync(join(tmpdir(), 'parley-customers-'));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function heldOut(withModel: boolean, cases = file): Promise<EvalReport> {
  const config = join(dir, 'parley.config.yaml');
  writeFileSync(
    config,
    `providers:\n  fake: { baseUrl: ${fake.url}, apiKeyEnv: FAKE_KEY, maxRetries: 0 }\nmodels:\n  m1: { provider: fake, contextWindow: 16000, maxOutputTokens: 400 }\n` +
      // The fake reader answers questions; it is no query rewriter: rewriting stays off, so the figures measure retrieval and the reader.
      `knowledge:\n  cacheTtlSeconds: 0\n  rewrite: { enabled: false }\n  sources:\n    docs: { path: ${EXAMPLE_DIR} }\nprofiles:\n  default: { model: m1, answerMode: grounded }\n`,
  );
  const core = await createCore(loadConfig({ PARLEY_CONFIG: config, STORE_URL: 'memory://' }), silentLogger(), undefined, {
    env: { FAKE_KEY: 'k' },
    watch: false,
  });
  try {
    return await runEval(
      cases,
      { settings: core.live.current, knowledge: core.knowledge.current, engine: withModel ? core.engine : undefined },
      { split: 'heldout' },
    );
  } finally {
    core.close();
    await core.engine.drain();
    await core.store.close();
  }
}

const rate = (t?: Tally) => (t ? t.passed / t.total : NaN);

describe('customer-style questions, held-out half', { timeout: 120_000 }, () => {
  it('the split is fixed in the file: about half of each kind is held out', () => {
    const held = file.cases.filter((c) => c.split === 'heldout');
    expect(held.length).toBeGreaterThanOrEqual(60);
    expect(held.filter((c) => !c.answerable).length).toBe(10);
    expect(held.filter((c) => /\p{Script=Han}/u.test(c.question)).length).toBeGreaterThanOrEqual(10);
    expect(file.cases.every((c) => c.split)).toBe(true);
  });

  it('without a model: the right page is retrieved for ≥ 90 %; quotes carry the fact and unrelated questions are not quoted', async () => {
    const report = await heldOut(false);
    const t = report.support!.find((x) => x.split === 'heldout')!;
    expect(t.recall!.total).toBe(76);
    expect(rate(t.recall)).toBeGreaterThanOrEqual(0.95);
    // Issue 16 asks 80 % for degraded quotes; measured 62/76 (81.6 %) held-out (docs/knowledge.md).
    expect(rate(t.quote)).toBeGreaterThanOrEqual(0.8);
    expect(rate(t.decline)).toBeGreaterThanOrEqual(0.7);
    // The example: an unrelated question is not answered with a quote that merely shares a stem.
    const life = report.cases.find((c) => c.question === 'What is the meaning of life?')!;
    expect(life.support).toMatchObject({ answerable: false, declined: true });
    expect(life.support!.quoted).toBeUndefined();
  });

  it('with a grounded profile and a model: the right page is sent for ≥ 90 % and cited for ≥ 90 %, and ≥ 90 % of unanswerable questions are declined', async () => {
    const report = await heldOut(true);
    const t = report.support!.find((x) => x.split === 'heldout')!;
    console.log(line('held-out, grounded + fake model', t));
    expect(rate(t.recall)).toBeGreaterThanOrEqual(0.95);
    // Issue 16 asks ≥ 90 %; measured 71/76 (93.4 %) held-out (docs/knowledge.md).
    expect(rate(t.citation)).toBeGreaterThanOrEqual(0.9);
    expect(rate(t.decline)).toBeGreaterThanOrEqual(0.9);
    // The model was really asked: one request per answerable case that had passages to read.
    expect(fake.chatRequests.length).toBeGreaterThan(50);
  });
});

/** The figures for docs/knowledge.md: `npx vitest run test/knowledge/customer-eval.test.ts` prints them. */
function line(name: string, t: { recall?: Tally; citation?: Tally; quote?: Tally; decline?: Tally }): string {
  const f = (x?: Tally) => (x ? `${x.passed}/${x.total} (${((100 * x.passed) / x.total).toFixed(1)} %)` : '–');
  return `${name}: sent ${f(t.recall)} · cited ${f(t.citation)} · quote has fact ${f(t.quote)} · unanswerable declined ${f(t.decline)}`;
}

describe('customer-style questions written blind after tuning (customers-fresh.yaml)', { timeout: 120_000 }, () => {
  it('is all held out, with Chinese and unanswerable questions', () => {
    expect(fresh.cases.length).toBeGreaterThanOrEqual(90);
    expect(fresh.cases.every((c) => c.split === 'heldout')).toBe(true);
    expect(fresh.cases.filter((c) => !c.answerable).length).toBeGreaterThanOrEqual(12);
    expect(fresh.cases.filter((c) => /\p{Script=Han}/u.test(c.question)).length).toBeGreaterThanOrEqual(10);
    // Nothing in it repeats the tuned set.
    const tuned = new Set(file.cases.map((c) => c.question.toLowerCase()));
    expect(fresh.cases.filter((c) => tuned.has(c.question.toLowerCase()))).toEqual([]);
  });

  it('without a model and with a grounded profile and a model', async () => {
    const degraded = (await heldOut(false, fresh)).support!.find((x) => x.split === 'heldout')!;
    const asked = fake.chatRequests.length;
    const grounded = (await heldOut(true, fresh)).support!.find((x) => x.split === 'heldout')!;
    console.log(`${line('fresh, no model', degraded)}\n${line('fresh, grounded + fake model', grounded)}`);
    // Floors at the measured figures (docs/knowledge.md), guarding against regressions.
    expect(rate(degraded.recall)).toBeGreaterThanOrEqual(0.9);
    expect(rate(degraded.quote)).toBeGreaterThanOrEqual(0.75);
    expect(rate(grounded.citation)).toBeGreaterThanOrEqual(0.85);
    expect(rate(grounded.decline)).toBeGreaterThanOrEqual(0.9);
    expect(fake.chatRequests.length - asked).toBeGreaterThan(50);
  });
});
