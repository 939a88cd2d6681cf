import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scoreAgainstReference } from '../../src/quality/reference.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { freshCloneDir, runParley } from '../helpers/process.js';

/** `parley eval` with reference answers and a judge, run as the built CLI against the fake model server. */
const cwd = freshCloneDir('quality-cli');
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(cwd, { recursive: true, force: true });
});
beforeEach(() => {
  fake.requests.length = 0;
});

const parley = (args: string[]) =>
  runParley(args, { cwd, env: { STORE_URL: 'memory://', LOG_LEVEL: 'error', OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'k', OPENAI_MODEL: 'fake-model' } });

const REFUND_REF = 'Annual plans can be refunded in full within 30 days of purchase.';
const BACKUP_REF = 'Daily snapshots are kept for 35 days, encrypted with AES-256.';
const REFUND_ANSWER = 'Annual plans can be refunded in full within 30 days of purchase [1].';
const BACKUP_ANSWER = 'Backups are kept for a week.';

function writeCases(name: string, extra = ''): string {
  const file = join(cwd, name);
  writeFileSync(
    file,
    `${extra}cases:\n` +
      `  - { question: How long is the refund window for annual plans?, sources: [billing/refunds.md], reference: "${REFUND_REF}" }\n` +
      `  - { question: How long are backups kept?, phrases: [35 days], reference: "${BACKUP_REF}" }\n`,
  );
  return file;
}

// Each test spawns a real process; on a loaded CI machine one start can take several seconds.
describe('parley eval with reference answers', { timeout: 60_000 }, () => {
  it('--format json: ROUGE-L and BLEU per case and in total, thresholds from the file, exit 1 under them', async () => {
    const cases = writeCases('refs.yaml', 'minScore: 0.5\nminRouge: 0.8\nminBleu: 0.01\n');
    fake.script({ model: 'fake-model', text: REFUND_ANSWER }, { model: 'fake-model', text: BACKUP_ANSWER });
    const r = await parley(['eval', cases, '--format', 'json']);
    const report = JSON.parse(r.stdout);
    const refund = scoreAgainstReference(REFUND_ANSWER, REFUND_REF);
    const backup = scoreAgainstReference(BACKUP_ANSWER, BACKUP_REF);
    expect(refund).toEqual({ rouge: 1, bleu: 1 });
    expect(report.cases.map((c: any) => [c.rouge, c.bleu])).toEqual([
      [1, 1],
      [backup.rouge, backup.bleu],
    ]);
    expect(report.reference).toEqual({ rouge: (1 + backup.rouge) / 2, bleu: (1 + backup.bleu) / 2, total: 2 });
    expect(report.reference.rouge).toBeLessThan(0.8);
    // The live groundedness of each model answer with passages comes along.
    expect(report.cases[0].groundedness).toBe(1);
    expect(report.thresholds).toEqual({ minScore: 0.5, minRouge: 0.8, minBleu: 0.01 });
    expect(report.failures).toEqual([`ROUGE-L ${report.reference.rouge.toFixed(3)} is under 0.8`]);
    expect(report.passed).toBe(false);
    expect(r.stderr).toContain(`parley: ROUGE-L ${report.reference.rouge.toFixed(3)} is under 0.8`);
    expect(r.code).toBe(1);
  });

  it('table with --judge: scores per case and in total; an unparseable verdict is reported and not counted; flags override the file', async () => {
    const cases = writeCases('judge.yaml', 'minScore: 0.5\nminRouge: 0.9\n');
    fake.script(
      { model: 'fake-model', text: REFUND_ANSWER },
      { model: 'judge-model', text: '{"faithfulness": 5, "helpfulness": 4, "reason": "States the 30-day window from [1]."}' },
      { model: 'fake-model', text: BACKUP_ANSWER },
      { model: 'judge-model', text: 'Pretty good answer overall.' },
    );
    const r = await parley(['eval', cases, '--judge', 'judge-model', '--min-rouge', '0.1', '--min-bleu', '0']);
    expect(r.stdout).toMatch(/rouge-L +bleu +grounded +judge F\/H +notes/);
    expect(r.stdout).toMatch(/\n1 .* ok +– +1\.000 +1\.000 +1\.000 +5\/4 +judge: States the 30-day window from \[1\]\.\n/);
    // Groundedness (third figure) is word overlap with every passage given, the page's neighbouring sections included: not the point here.
    expect(r.stdout).toMatch(/\n2 .* FAIL +0\.\d{3} +0\.\d{3} +[01]\.\d{3} +n\/a +missing "35 days"; unparseable judge reply \(no JSON object\)\n/);
    expect(r.stdout).toMatch(/\nrouge-L: +0\.\d{3} \(mean of 2\)\nbleu: +0\.\d{3} \(mean of 2\)\n/);
    expect(r.stdout).toContain('judge:     faithfulness 5.00, helpfulness 4.00 (1–5, 1 scored, 1 unparseable or failed, not counted; judge-model)');
    const judged = fake.chatRequests.filter((q) => q.body.model === 'judge-model');
    expect(judged).toHaveLength(2);
    expect(judged.map((q) => [q.body.temperature, q.body.seed])).toEqual([
      [0, 7],
      [0, 7],
    ]);
    // The judge sees the passage the answer cites.
    expect(judged[0]!.body.messages[1].content).toContain('within **30 days** of purchase');
    // Score 0.75 (hit@3 1/1, phrases 0/1) ≥ 0.5; ROUGE-L ≥ 0.1 from the flag (the file's 0.9 is overridden): passes.
    expect(r.code).toBe(0);
  });

  it('takes the judge from the cases file too, so CI needs no flag', async () => {
    const cases = writeCases('judge-in-file.yaml', 'minScore: 0\njudge: judge-model\n');
    fake.script(
      { model: 'fake-model', text: REFUND_ANSWER },
      { model: 'judge-model', text: '{"faithfulness": 4, "helpfulness": 4, "reason": "Correct window."}' },
      { model: 'fake-model', text: BACKUP_ANSWER },
      { model: 'judge-model', text: '{"faithfulness": 2, "helpfulness": 3, "reason": "Wrong retention."}' },
    );
    const r = await parley(['eval', cases]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('judge:     faithfulness 3.00, helpfulness 3.50 (1–5, 2 scored');
    expect(fake.chatRequests.filter((q) => q.body.model === 'judge-model')).toHaveLength(2);
  });
});
