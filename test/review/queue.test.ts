import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startParley, type Parley } from '../../src/app.js';
import { buildReport } from '../../src/analytics/report.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { TurnResult } from '../../src/engine/pipeline.js';
import type { FeedbackEvent } from '../../src/kernel/types.js';
import { HANDOFF_TEXTS } from '../../src/handoff/service.js';
import { reviewId } from '../../src/review/queue.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { copyOfExample } from '../knowledge/helpers.js';

/**
 * The review queue through the real app: the engine answers on a memory adapter with the fake
 * model, the support desk takes 👍/👎 and handoffs, and the queue fills from each source.
 * Then a correction goes into the FAQ file and the same question is answered from it with no
 * model call.
 */
const REFUND_QUESTION = 'Can I get a refund on an annual plan after three months?';
// Worded differently from the first, so it is not answered from the answer cache.
const REFUND_AGAIN = 'Is a refund of an annual plan possible after three months?';
const SUPPORTED =
  'Annual plans can be refunded in full within 30 days of purchase [1]. After 30 days the unused whole months are refunded, minus a 10% administration fee [1].';
const INVENTED = 'Annual plans can be refunded within 90 days [1]. After that a 25% fee applies, and refunds arrive within 2 hours by wire transfer.';

let fake: FakeOpenAI;
let parley: Parley;
let adapter: MemoryAdapter;
let dir: string;
let hook: Server;
let threads = 0;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
  dir = copyOfExample();
  // Handoffs need somewhere to go: a webhook receiver that accepts everything.
  hook = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end()));
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  adapter = new MemoryAdapter({ latencyMs: 1 });
  const config = loadConfig({
    STORE_URL: 'memory://',
    PORT: '0',
    LOG_LEVEL: 'silent',
    KNOWLEDGE_DIR: dir,
    OPENAI_BASE_URL: fake.url,
    OPENAI_MODEL: 'fake-model',
    HANDOFF_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
  });
  parley = await startParley(config, { log: silentLogger(), platforms: false, http: false, watch: false, extraAdapters: [adapter] });
});

afterAll(async () => {
  await parley?.stop();
  await fake?.close();
  await new Promise<void>((r) => hook.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function ask(text: string, reply?: string): Promise<{ result: TurnResult; id: string }> {
  if (reply) fake.script(reply);
  // Each question its own thread (a handed-off thread stays quiet; history would merge topics).
  const message = adapter.message(text, { thread: `T${++threads}` });
  const result = (await parley.engine.deliver(adapter, message))!;
  await parley.engine.drain();
  return { result, id: message.id };
}

async function feedback(answerId: string, kind: FeedbackEvent['kind'], user = 'U7', reason?: string): Promise<string[]> {
  const said: string[] = [];
  await parley.support.desk.feedback({
    platform: 'memory',
    answerId,
    kind,
    reason,
    user: { id: user, name: `person ${user}` },
    at: Date.now(),
    respond: async (t) => void said.push(t),
  });
  await parley.support.desk.idle();
  return said;
}

const queued = () => parley.support.review.list({ since: Date.now() - 86_400_000, status: 'all' });

describe('review queue', () => {
  it('queues a model answer under the groundedness threshold with its question, answer, passages and score, and not a grounded one', async () => {
    const grounded = await ask(REFUND_QUESTION, SUPPORTED);
    const weak = await ask(REFUND_AGAIN, INVENTED);
    expect([grounded.result.grounding?.score, weak.result.grounding?.score]).toEqual([1, 0]);

    const item = await parley.support.review.get(reviewId('memory', weak.id));
    expect(item).toMatchObject({
      status: 'open',
      question: REFUND_AGAIN,
      answer: INVENTED,
      source: 'model',
      groundedness: 0,
      profile: 'default',
      flags: [{ reason: 'low_groundedness' }],
    });
    expect(item!.unsupported.flatMap((u) => u.inventedNumbers)).toEqual(['90', '25', '2']);
    expect(item!.passages[0]).toMatchObject({ location: expect.stringContaining('billing/refunds.md') });
    expect(item!.passages[0]!.text).toContain('30 days');
    expect(await parley.support.review.get(reviewId('memory', grounded.id))).toBeUndefined();
  });

  it('queues an answer with a 👎 (who and why), withdraws it when that person changes to 👍, and queues handoffs', async () => {
    const { id } = await ask(
      'How do I import time entries from CSV?',
      'Clients, projects, and time entries can be imported from CSV under **Settings → Import** [1]. Templates for each are on the import page [1].',
    );
    expect(await feedback(id, 'down', 'U7', 'It is under Timesheets, not Reports')).toHaveLength(1);
    const down = await parley.support.review.get(reviewId('memory', id));
    expect(down).toMatchObject({
      status: 'open',
      source: 'model',
      flags: [{ reason: 'down', user: { id: 'U7' }, note: 'It is under Timesheets, not Reports' }],
    });
    // The passages come back from the knowledge base (the answer record keeps references only).
    expect(down!.passages.length).toBeGreaterThan(0);
    expect(down!.passages.every((p) => typeof p.text === 'string' && p.changed === undefined)).toBe(true);

    await feedback(id, 'up', 'U7');
    expect(await parley.support.review.get(reviewId('memory', id))).toBeUndefined();

    const handed = await ask(
      'What happens when my card payment fails?',
      'If a charge fails we retry after 3, 5 and 7 days and email the Owners each time [1].',
    );
    const said = await feedback(handed.id, 'handoff', 'U8', 'I need a refund today');
    expect(said).toEqual([HANDOFF_TEXTS.requested]);
    expect(await parley.support.review.get(reviewId('memory', handed.id))).toMatchObject({
      flags: [{ reason: 'handoff', user: { id: 'U8' }, note: 'I need a refund today' }],
    });

    const list = await queued();
    expect(list.map((i) => i.flags.map((f) => f.reason).join('+'))).toEqual(['handoff', 'low_groundedness']);
    expect((await parley.support.review.list({ since: Date.now() - 86_400_000, reason: 'handoff' })).map((i) => i.question)).toEqual([
      'What happens when my card payment fails?',
    ]);
  });

  it('records groundedness with the answers in analytics', async () => {
    const report = await buildReport(parley.support.analytics, { since: Date.now() - 86_400_000, until: Date.now() });
    // Refund ×2 (1 and 0), then the CSV and card answers (both copied from their pages: 1); one queued.
    expect(report.totals).toMatchObject({ groundedAnswers: 4, groundedness: 0.75, queuedForReview: 1 });
  });

  it('a verdict is kept, and a new flag on a reviewed answer reopens it with the verdict shown', async () => {
    const { id } = await ask('Which currency do my invoices use?', 'Each client has one currency, used for all its invoices [1].');
    await feedback(id, 'down', 'U9');
    const rid = reviewId('memory', id);
    await parley.support.review.mark(rid, 'good', 'lead', 'the answer is right');
    expect(await parley.support.review.get(rid)).toMatchObject({ status: 'good', review: { verdict: 'good', by: 'lead', note: 'the answer is right' } });
    await feedback(id, 'handoff', 'U10');
    const reopened = await parley.support.review.get(rid);
    // Reopened, with the earlier verdict still on it for the next reviewer.
    expect(reopened).toMatchObject({ status: 'open', flags: [{ reason: 'down' }, { reason: 'handoff' }], review: { verdict: 'good', by: 'lead' } });
    await expect(parley.support.review.mark('nope', 'bad', 'lead')).rejects.toMatchObject({ code: 'review_not_found' });
  });

  it('correct → FAQ entry → the identical question is answered from the FAQ with no model call', async () => {
    const weak = (await parley.support.review.list({ since: Date.now() - 86_400_000, reason: 'low_groundedness' }))[0]!;
    const corrected =
      'Annual plans are refunded in full within 30 days; after that, the unused whole months minus a 10% fee. An Owner writes to billing@tallyho.example.';
    const fix = await parley.support.review.correct(weak.id, { answer: corrected, by: 'lead' });
    expect(fix).toMatchObject({
      answersFromFaq: true,
      faq: { created: true, file: expect.stringMatching(/reviewed-faq\.yaml$/) },
      item: { status: 'corrected', review: { verdict: 'corrected', by: 'lead' } },
    });

    // A normal FAQ file, in the knowledge folder, citing the page the answer's passage came from.
    const text = readFileSync(join(dir, 'reviewed-faq.yaml'), 'utf8');
    expect(text).toMatch(/^# Answers corrected in Parley's review queue/);
    expect(text).toContain(`# corrected by lead on`);
    expect(parse(text)).toEqual([{ id: fix.faq.id, questions: [REFUND_AGAIN], answer: `${corrected}\n`, source: 'billing/refunds.md' }]);

    const calls = fake.chatRequests.length;
    const again = await ask(REFUND_AGAIN);
    expect(again.result.source).toBe('faq');
    expect(again.result.text).toBe(corrected);
    expect(again.result.citations[0]?.location).toContain('billing/refunds.md');
    expect(fake.chatRequests.length).toBe(calls);
  });

  it('a 👎 on an FAQ answer corrects that FAQ entry in place, keeping the rest of the file', async () => {
    const before = readFileSync(join(dir, 'faq.yaml'), 'utf8');
    const faq = await ask('How do I cancel my subscription?');
    expect(faq.result.source).toBe('faq');
    await feedback(faq.id, 'down', 'U11', 'you forgot the refund');
    const rid = reviewId('memory', faq.id);
    const corrected =
      'An Owner opens **Settings → Billing → Cancel subscription**; the plan runs to the end of the period. Annual plans can ask for a refund within 30 days.';
    const fix = await parley.support.review.correct(rid, { answer: corrected, by: 'lead' });
    expect(fix.faq).toMatchObject({ file: expect.stringMatching(/\/faq\.yaml$/), id: 'cancel', created: false });
    expect(fix.answersFromFaq).toBe(true);

    const after = readFileSync(join(dir, 'faq.yaml'), 'utf8');
    const [was, now] = [parse(before) as { id: string; answer: string }[], parse(after) as { id: string; answer: string }[]];
    expect(now.map((e) => e.id)).toEqual(was.map((e) => e.id));
    expect(now.find((e) => e.id === 'cancel')!.answer.trim()).toBe(corrected);
    expect(now.filter((e) => e.id !== 'cancel')).toEqual(was.filter((e) => e.id !== 'cancel'));
    // The file's own comments stay (a reviewable diff, not a rewrite).
    expect(after.startsWith(before.split('\n').slice(0, 2).join('\n'))).toBe(true);

    const calls = fake.chatRequests.length;
    const again = await ask('How do I cancel my subscription?');
    expect([again.result.source, again.result.text]).toEqual(['faq', corrected]);
    expect(fake.chatRequests.length).toBe(calls);
  });

  it('a correction can word the FAQ question itself: the file holds that wording, and it is answered from the FAQ', async () => {
    const handed = (await parley.support.review.list({ since: Date.now() - 86_400_000, reason: 'handoff' })).find(
      (i) => i.question === 'What happens when my card payment fails?',
    )!;
    const fix = await parley.support.review.correct(handed.id, {
      answer: 'We retry after 3, 5 and 7 days and email the Owners each time.',
      by: 'lead',
      question: 'What happens if a card payment fails?',
    });
    expect(fix).toMatchObject({ answersFromFaq: true, faq: { created: true }, item: { status: 'corrected' } });
    const entries = parse(readFileSync(join(dir, 'reviewed-faq.yaml'), 'utf8')) as { id: string; questions: string[] }[];
    expect(entries.find((e) => e.id === fix.faq.id)!.questions).toEqual(['What happens if a card payment fails?']);
    const calls = fake.chatRequests.length;
    const again = await ask('What happens if a card payment fails?');
    expect([again.result.source, again.result.text]).toEqual(['faq', 'We retry after 3, 5 and 7 days and email the Owners each time.']);
    expect(fake.chatRequests.length).toBe(calls);
  });

  it("/parley forget removes the person's questions from the queue, and their 👎 notes from other people's answers", async () => {
    const forget = async (user: string) => {
      const message = adapter.message('forget', { trigger: 'slash_command', command: 'parley', user: { id: user }, thread: `F${++threads}` });
      return (await parley.engine.deliver(adapter, message))!.text;
    };
    const before = await queued();
    const withU9 = before.find((i) => i.flags.some((f) => f.user?.id === 'U9'))!;
    expect(withU9.asker.id).toBe('U1');
    expect(await forget('U9')).toMatch(/1 answer queued for review/);
    const after = await parley.support.review.get(withU9.id);
    expect(after!.flags.map((f) => f.user?.id)).toEqual(['U10']);

    // U1 asked every question here: all their items go.
    expect(before.every((i) => i.asker.id === 'U1')).toBe(true);
    expect(await forget('U1')).toMatch(new RegExp(`${before.length} answers queued for review`));
    expect(await queued()).toEqual([]);
  });
});
