import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/env.js';
import { resolveSettings } from '../../src/config/settings.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { Grounding, TurnResult } from '../../src/engine/pipeline.js';
import { conversationKey, type IncomingMessage } from '../../src/kernel/types.js';
import type { AnswerRecord } from '../../src/analytics/answers.js';
import { KnowledgeBase, type Passage } from '../../src/knowledge/base.js';
import { reviewId, type ReviewItem } from '../../src/review/queue.js';
import { ReviewService } from '../../src/review/service.js';
import { openStore } from '../../src/store/store.js';
import { runParley } from '../helpers/process.js';
import { EXAMPLE_DIR } from '../knowledge/helpers.js';

/**
 * `parley review` as the built CLI, over a sqlite store seeded the way the bot fills it: a model
 * answer under the groundedness threshold, a 👎, and a handoff. The knowledge folder is a private
 * copy, because `correct` writes an FAQ file into it.
 */
const cwd = mkdtempSync(join(tmpdir(), 'parley-review-cli-'));
const KNOWLEDGE = join(cwd, 'knowledge');
const STORE_URL = `sqlite://${join(cwd, 'parley.sqlite')}`;
const DAY = 86_400_000;

const GROUNDED = { question: 'How long are backups kept after a workspace is deleted?', id: reviewId('slack', 'm-backups') };
const DOWN = { question: 'How much is the Team plan for 5 people?', id: reviewId('slack', 'm-team') };
const HANDOFF = { question: 'Can I export invoices to PDF?', id: reviewId('slack', 'm-pdf') };
const CORRECTED = 'Backups of a deleted workspace are erased within 90 days, after the 30-day grace period.';

beforeAll(async () => {
  cpSync(EXAMPLE_DIR, KNOWLEDGE, { recursive: true });
  const settings = resolveSettings(loadConfig({ STORE_URL, KNOWLEDGE_DIR: KNOWLEDGE }), undefined, cwd);
  const kb = new KnowledgeBase(settings.knowledge.sources, { log: silentLogger() });
  await kb.load();
  const passage = (key: string): Passage => {
    const p = kb.passageByKey(key);
    if (!p) throw new Error(`the example knowledge has no passage ${key}`);
    return p;
  };
  const store = await openStore(STORE_URL);
  const review = new ReviewService({ store, settings: () => settings, knowledge: () => kb, log: silentLogger() });
  const now = Date.now();

  // Two days ago, so --since 1d leaves it out: a third of the answer backed, two invented numbers.
  const retention = passage('default:security/data-retention.md#after-deletion');
  const g1 = answer({
    id: 'm-backups',
    question: GROUNDED.question,
    at: now - 2 * DAY,
    profile: 'default',
    source: 'model',
    text: 'A deleted workspace has a 30-day grace period. Backups are kept for 14 more days. Everything is gone within 45 days.',
    grounding: {
      score: 1 / 3,
      passages: [
        {
          id: retention.key,
          source: retention.source,
          path: retention.path,
          title: retention.title,
          location: retention.location,
          hash: retention.hash,
          text: retention.text,
        },
      ],
      unsupported: [
        { text: 'Backups are kept for 14 more days.', inventedNumbers: ['14'] },
        { text: 'Everything is gone within 45 days.', inventedNumbers: ['45'] },
      ],
    },
  });
  expect(await review.answered(g1.record, g1.turn)).toBe(true);

  // A 👎 on a well-enough grounded answer whose pages changed or went away since.
  const plans = passage('default:billing/plans-and-pricing.md#plans');
  const refunds = passage('default:billing/refunds.md#annual-plans');
  const ref = (p: Passage, hash = p.hash) => ({ id: p.key, source: p.source, path: p.path, title: p.title, location: p.location, hash, text: p.text });
  const gone = {
    id: 'default:billing/old-prices.md#team',
    source: 'default',
    path: 'billing/old-prices.md',
    title: 'Old prices › Team',
    location: 'knowledge/billing/old-prices.md#team',
    hash: 'gone',
    text: 'Team: $10',
  };
  const d = answer({
    id: 'm-team',
    question: DOWN.question,
    at: now - 3_600_000,
    profile: 'billing',
    source: 'model',
    text: 'The Team plan is $10 per seat, so $50 a month.',
    grounding: { score: 0.75, passages: [ref(plans), ref(refunds, 'an older version'), gone], unsupported: [] },
  });
  expect(await review.answered(d.record, d.turn)).toBe(false);
  await review.voted(d.record, { id: 'U-BEA', name: 'Bea' }, 'down', 'wrong price');

  const h = answer({
    id: 'm-pdf',
    question: HANDOFF.question,
    at: now - 1_800_000,
    profile: 'default',
    source: 'declined',
    text: 'I could not find that in the documentation.',
  });
  await review.handedOff(h.record, { id: 'U-CY', name: 'Cy' }, 'needs a human');

  await review.idle();
  kb.close();
  // sqlite: one writer at a time, so the store is closed before any child opens it.
  await store.close();
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** An answer as the support desk records it (AnswerRecord) and as the engine reported the turn (TurnResult). */
function answer(o: { id: string; question: string; text: string; at: number; profile: string; source: string; grounding?: Grounding }): {
  record: AnswerRecord;
  turn: TurnResult;
} {
  const message: IncomingMessage = {
    platform: 'slack',
    workspace: 'T1',
    channel: 'C-HELP',
    thread: o.id,
    id: o.id,
    user: { id: `U-${o.id}` },
    text: o.question,
    attachments: [],
    trigger: 'mention',
    receivedAt: o.at - 2_000,
  };
  const conversation = conversationKey(message);
  const turn: TurnResult = {
    conversation,
    message,
    profile: o.profile,
    question: o.question,
    text: o.text,
    source: o.source,
    citations: [],
    startedAt: o.at - 2_000,
    finishedAt: o.at,
    updates: 1,
    grounding: o.grounding,
  };
  const record: AnswerRecord = {
    conversation,
    day: new Date(o.at).toISOString().slice(0, 10),
    profile: o.profile,
    channel: 'slack:C-HELP',
    question: o.question,
    platform: 'slack',
    answerId: o.id,
    workspace: 'T1',
    thread: o.id,
    asker: message.user,
    source: o.source,
    at: o.at,
    text: o.text,
    grounding: o.grounding && { ...o.grounding, passages: o.grounding.passages.map(({ text: _text, ...p }) => p) },
  };
  return { record, turn };
}

// No OPENAI_*: nothing here needs a model, and `ask` must answer from the FAQ alone.
const parley = (args: string[], input = '') => runParley(args, { cwd, input, env: { STORE_URL, KNOWLEDGE_DIR: KNOWLEDGE, LOG_LEVEL: 'silent' } });

async function listJson(args: string[] = []): Promise<{ since: string; items: ReviewItem[] }> {
  const r = await parley(['review', '--format', 'json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

// In order: the listing tests read the seeded queue; the verdict and correction tests then change it.
describe('parley review', { timeout: 60_000 }, () => {
  it('lists the open items weakest first: handoff, 👎, then low groundedness, each with why', async () => {
    const r = await parley(['review']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const rows = r.stdout.split('\n').filter((l) => /^[0-9a-f]{10}\s/.test(l));
    expect(rows.map((l) => l.slice(0, 10))).toEqual([HANDOFF.id, DOWN.id, GROUNDED.id]);
    expect(rows[0]).toContain("handed off 'needs a human'");
    expect(rows[0]).toContain(HANDOFF.question);
    expect(rows[1]).toContain("👎 'wrong price'");
    expect(rows[1]).toMatch(/\bbilling\b/);
    expect(rows[2]).toContain('grounded 0.33');
    expect(r.stdout).toContain('↳ The Team plan is $10 per seat');
    expect(r.stdout).toMatch(/\n\n3 answers to review since \d{4}-\d\d-\d\d · details: parley review show ID · fix: parley review correct ID --answer "…"\n$/);
  });

  it('--limit shows the weakest N and says how many there are', async () => {
    const r = await parley(['review', '--limit', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(
      r.stdout
        .split('\n')
        .filter((l) => /^[0-9a-f]{10} /.test(l))
        .map((l) => l.slice(0, 10)),
    ).toEqual([HANDOFF.id, DOWN.id]);
    expect(r.stdout).toMatch(/\n\nthe weakest 2 of 3 answers to review since \d{4}-\d\d-\d\d \(--limit N for more\) · /);
    const json = JSON.parse((await parley(['review', '--limit', '1', '--format', 'json'])).stdout);
    expect([json.total, json.items.length]).toEqual([3, 1]);
    expect((await parley(['review', '--limit', '0'])).code).toBe(2);
  });

  it('--format json gives since and the items, in the same order', async () => {
    const { since, items } = await listJson();
    expect(Math.abs(Date.parse(since) - (Date.now() - 7 * DAY))).toBeLessThan(60_000);
    expect(items.map((i) => i.id)).toEqual([HANDOFF.id, DOWN.id, GROUNDED.id]);
    const grounded = items[2]!;
    expect(grounded).toMatchObject({ question: GROUNDED.question, status: 'open', profile: 'default', source: 'model' });
    expect(grounded.groundedness).toBeCloseTo(1 / 3);
    expect(grounded.flags.map((f) => f.reason)).toEqual(['low_groundedness']);
    expect(items[1]!.flags).toMatchObject([{ reason: 'down', user: { id: 'U-BEA', name: 'Bea' }, note: 'wrong price' }]);
  });

  it('filters by --reason, --profile, --status and --since', async () => {
    expect((await listJson(['--reason', 'down'])).items.map((i) => i.id)).toEqual([DOWN.id]);
    expect((await listJson(['--reason', 'handoff'])).items.map((i) => i.id)).toEqual([HANDOFF.id]);
    expect((await listJson(['--reason', 'low_groundedness', '--profile', 'default'])).items.map((i) => i.id)).toEqual([GROUNDED.id]);
    expect((await listJson(['--profile', 'billing'])).items.map((i) => i.id)).toEqual([DOWN.id]);
    expect((await listJson(['--since', '1d'])).items.map((i) => i.id)).toEqual([HANDOFF.id, DOWN.id]);
    expect((await listJson(['--status', 'good'])).items).toEqual([]);
    const empty = await parley(['review', '--status', 'corrected']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^No answers to review since \d{4}-\d\d-\d\d \(status corrected\)\.\n$/);
  });

  it('show prints the answer, the unsupported sentences with invented numbers, the passages and the flags', async () => {
    const g = await parley(['review', 'show', GROUNDED.id]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toContain(GROUNDED.question);
    expect(g.stdout).toContain('Backups are kept for 14 more days. Everything is gone within 45 days.');
    expect(g.stdout).toContain('Groundedness: 0.33 (under the threshold 0.5)');
    expect(g.stdout).toContain('- Backups are kept for 14 more days.  [invented numbers: 14]');
    expect(g.stdout).toContain('- Everything is gone within 45 days.  [invented numbers: 45]');
    expect(g.stdout).toContain('[1] Data retention › After deletion — knowledge/security/data-retention.md#after-deletion\n');
    expect(g.stdout).toContain('from backups within 90 days');
    expect(g.stdout).toContain('low groundedness (0.33)');
    expect(g.stdout).toContain('Not reviewed yet');

    const d = await parley(['review', 'show', DOWN.id]);
    expect(d.stdout).toContain('[1] Tallyho plans and pricing › Plans — knowledge/billing/plans-and-pricing.md#plans\n      | plan | price | for |');
    expect(d.stdout).toContain('[2] Refund policy › Annual plans — knowledge/billing/refunds.md#annual-plans (changed since the answer)\n');
    expect(d.stdout).toContain('[3] Old prices › Team — knowledge/billing/old-prices.md#team (no longer in the knowledge base)');
    expect(d.stdout).toMatch(/- 👎 by Bea \(U-BEA\), \d{4}-\d\d-\d\d \d\d:\d\d UTC: "wrong price"/);
  });

  it('good and bad set the status and the verdict, which --status shows', async () => {
    const good = await parley(['review', 'good', HANDOFF.id, '--note', 'the human had it', '--by', 'rita']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain(`Marked ${HANDOFF.id} good (by rita)`);
    const bad = await parley(['review', 'bad', DOWN.id]);
    expect(bad.code, bad.stderr).toBe(0);

    // Reviewed items leave the default (open) list.
    expect((await listJson()).items.map((i) => i.id)).toEqual([GROUNDED.id]);
    const all = (await listJson(['--status', 'all'])).items;
    expect(Object.fromEntries(all.map((i) => [i.id, i.status]))).toEqual({ [HANDOFF.id]: 'good', [DOWN.id]: 'bad', [GROUNDED.id]: 'open' });
    expect(all.find((i) => i.id === HANDOFF.id)!.review).toMatchObject({ verdict: 'good', by: 'rita', note: 'the human had it' });
    // Without --by, the OS account signs the verdict.
    expect(all.find((i) => i.id === DOWN.id)!.review).toMatchObject({ verdict: 'bad', by: userInfo().username });

    const table = await parley(['review', '--status', 'good']);
    expect(
      table.stdout
        .split('\n')
        .filter((l) => /^[0-9a-f]{10}\s/.test(l))
        .map((l) => l.slice(0, 10)),
    ).toEqual([HANDOFF.id]);
    expect((await parley(['review', 'show', DOWN.id])).stdout).toMatch(/Review: bad by \S+, \d{4}-/);
  });

  it('correct writes the answer into reviewed-faq.yaml, and ask then answers the question from the FAQ', async () => {
    const r = await parley(['review', 'correct', GROUNDED.id, '--answer', CORRECTED, '--by', 'rita']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Saved the corrected answer to \S*knowledge\/reviewed-faq\.yaml: new FAQ entry "review-[^"]+"\./);
    expect(r.stdout).toContain(`"${GROUNDED.question}" is now answered from the FAQ, with no model call.`);
    expect(r.stdout).toContain('review and commit it in git');

    const entries = parse(readFileSync(join(KNOWLEDGE, 'reviewed-faq.yaml'), 'utf8')) as { id: string; questions: string[]; answer: string; source?: string }[];
    expect(entries).toHaveLength(1);
    expect(entries[0]!.questions).toContain(GROUNDED.question);
    expect(entries[0]!.answer.trim()).toBe(CORRECTED);
    expect(entries[0]!.source).toBe('security/data-retention.md');

    const item = (await listJson(['--status', 'corrected'])).items;
    expect(item.map((i) => i.id)).toEqual([GROUNDED.id]);
    expect(item[0]!.review).toMatchObject({ verdict: 'corrected', by: 'rita', faq: { id: entries[0]!.id } });

    const ask = await parley(['ask', GROUNDED.question]);
    expect(ask.code, ask.stderr).toBe(0);
    expect(ask.stdout).toContain('this answer comes from the FAQ');
    expect(ask.stdout).toContain(CORRECTED);
  });

  it('correct --answer-file - reads the answer from stdin; --question words the FAQ entry', async () => {
    const answer = 'The Team plan is $12 per seat per month: $60 a month for 5 people.\nPaying yearly saves 20%.';
    const wording = 'How much does the Team plan cost?';
    const r = await parley(['review', 'correct', DOWN.id, '--answer-file', '-', '--question', wording], `${answer}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`"${wording}" is now answered from the FAQ`);
    const entries = parse(readFileSync(join(KNOWLEDGE, 'reviewed-faq.yaml'), 'utf8')) as { questions: string[]; answer: string }[];
    expect(entries.find((e) => e.questions.includes(wording))?.answer.trim()).toBe(answer);
    expect(entries.some((e) => e.questions.includes(DOWN.question))).toBe(false);
  });

  it('an unknown id exits 1 naming it; bad flags exit 2 with the usage', async () => {
    for (const args of [
      ['show', 'nope'],
      ['good', 'nope'],
      ['correct', 'nope', '--answer', 'x'],
    ]) {
      const r = await parley(['review', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^parley: no review item "nope"/);
      expect(r.stdout).toBe('');
    }
    const status = await parley(['review', '--status', 'pending']);
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/^parley: --status: expected open, good, bad, corrected or all \(got "pending"\)\nusage: parley review /);
    const reason = await parley(['review', '--reason', 'slow']);
    expect(reason.code).toBe(2);
    expect(reason.stderr).toContain('--reason: expected low_groundedness, down, handoff');
    const unknown = await parley(['review', 'good', GROUNDED.id, '--answer', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^parley: Unknown option '--answer'\nusage: /);
    const noAnswer = await parley(['review', 'correct', GROUNDED.id]);
    expect(noAnswer.code).toBe(2);
    expect(noAnswer.stderr).toMatch(/^parley: --answer: the corrected answer is required/);
  });
});
