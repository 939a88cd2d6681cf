import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { freshCloneDir, runParley } from '../helpers/process.js';

/** The built CLI, run as an operator would, from a directory laid out like a fresh clone. */
const root = resolve(import.meta.dirname, '../..');
const cwd = freshCloneDir('kb-cli');
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(cwd, { recursive: true, force: true });
});

const parley = (args: string[], env: Record<string, string> = {}) => runParley(args, { cwd, env: { STORE_URL: 'memory://', LOG_LEVEL: 'error', ...env } });

// Each test spawns real processes; on a loaded CI machine one start can take several seconds.
describe('parley with the bundled example knowledge', { timeout: 60_000 }, () => {
  it('ask with no model answers from the knowledge base, says so, and lists the source', async () => {
    const r = await parley(['ask', 'How do I verify webhook signatures?']);
    expect(r.code).toBe(0);
    // Nothing configured: the console demo says plainly where its answers come from.
    expect(r.stderr).toContain('no knowledge is configured, so answers come from the bundled example docs (examples/knowledge, a fictional product)');
    expect(r.stdout).toMatch(/^_No model is configured, so this answer is quoted from the knowledge base:_\n/);
    expect(r.stdout).toContain('> Each delivery has a `Tallyho-Signature` header');
    expect(r.stdout).toMatch(/\nSources:\n {2}\[1\] Webhooks › Verifying signatures — examples\/knowledge\/api\/webhooks\.md#verifying-signatures\n$/);
  });

  it('ask with a model prints the answer and the sources it was given', async () => {
    fake.script('Refunds on annual plans: within 30 days [1].');
    const r = await parley(['ask', 'Can I get a refund on an annual plan after two months?'], {
      OPENAI_BASE_URL: fake.url,
      OPENAI_API_KEY: 'k',
      OPENAI_MODEL: 'fake-model',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'Refunds on annual plans: within 30 days [1].\n\nSources:\n  [1] Refund policy › Annual plans — examples/knowledge/billing/refunds.md#annual-plans\n',
    );
    expect(fake.chatRequests.at(-1)!.body.messages[0].content).toContain('examples/knowledge/billing/refunds.md#annual-plans');
  });

  it('route shows the matching rule and profile of a config file', async () => {
    const env = { PARLEY_CONFIG: join(root, 'examples/parley.config.yaml') };
    const legal = await parley(['route', 'Who can see our data?', '--channel', 'C0LEGAL', '--platform', 'slack'], env);
    expect(legal.code).toBe(0);
    expect(legal.stdout).toMatch(/^rule: +legal-channel \(routing\[0\]\)\nprofile: +legal\n/);
    const plain = await parley(['route', 'How do I start a timer?', '--channel', 'C1'], env);
    expect(plain.stdout).toMatch(/^rule: +none matched; the default profile answers\nprofile: +default\n/);
  });

  it('eval on the shipped cases prints a table and totals with hit@3 of at least 0.9', async () => {
    const shipped = await parley(['eval', join(root, 'examples/eval/tallyho.yaml')]);
    expect(shipped.code).toBe(0);
    const m = /hit@3: +(\d+)\/(\d+)/.exec(shipped.stdout)!;
    expect(Number(m[1]) / Number(m[2])).toBeGreaterThanOrEqual(0.9);
    expect(shipped.stdout).toMatch(/phrases: +not checked \(no model configured\)/);
  });

  it('eval exits non-zero under the score (from the file or --min-score)', async () => {
    const cases = join(cwd, 'cases.yaml');
    writeFileSync(
      cases,
      'minScore: 0.9\ncases:\n  - { question: How do I verify webhook signatures?, sources: [api/webhooks.md] }\n  - { question: What is the weather in Paris?, sources: [api/webhooks.md] }\n',
    );
    const half = await parley(['eval', cases]);
    expect(half.code).toBe(1);
    expect(half.stdout).toMatch(/hit@3: +1\/2 \(50\.0%\)/);
    expect(half.stdout).toMatch(/score: +0\.500/);
    expect(half.stderr).toMatch(/score 0\.500 is under 0\.9/);
    expect((await parley(['eval', cases, '--min-score', '0.5'])).code).toBe(0);
  });

  it('eval runs the whole pipeline when a model is configured and checks the expected phrases', async () => {
    const cases = join(cwd, 'phrases.yaml');
    writeFileSync(
      cases,
      'cases:\n  - { question: How long is the refund window for annual plans?, sources: [billing/refunds.md], phrases: [30 days] }\n  - { question: How long are backups kept?, phrases: [35 days] }\n',
    );
    fake.script('Annual plans: 30 days.', 'Backups: a week.');
    const r = await parley(['eval', cases], { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'k', OPENAI_MODEL: 'fake-model' });
    expect(r.stdout).toMatch(/phrases: +1\/2 \(50\.0%\)/);
    expect(r.stdout).toContain('missing "35 days"');
    expect(r.code).toBe(1);
  });

  it('a bad config file stops the start with the key and line', async () => {
    const file = join(cwd, 'bad.yaml');
    writeFileSync(file, 'profiles:\n  default:\n    answerMode: sometimes\n');
    const r = await parley(['ask', 'hi'], { PARLEY_CONFIG: file });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^parley: profiles\.default\.answerMode: .*bad\.yaml line 3\)$/m);
  });
});
