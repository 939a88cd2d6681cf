import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'yaml';
import { startParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { mountDashboard } from '../../src/dashboard/index.js';
import { HttpServer } from '../../src/server/http.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { MemoryAdapter } from '../fakes/memory-adapter.js';
import { copyOfExample } from '../knowledge/helpers.js';
import { launchChromium, signIn, watchedPage } from './browser.js';

/**
 * The review queue on the dashboard (issue 12), in a real headless Chromium against a real
 * Parley whose model is the fake OpenAI server: weak answers listed with why, one expanded to
 * its passages and invented numbers, one marked bad, one corrected into the FAQ, after which
 * the same question is answered from the FAQ with no model call.
 */
const TOKEN = 'review-admin-token-0123456789';
const BEARER = { authorization: `Bearer ${TOKEN}` };

const REFUND_Q = 'Can I get a refund on an annual plan after three months?';
const INVENTED = 'Annual plans can be refunded within 90 days [1]. After that a 25% fee applies, and refunds arrive within 2 hours by wire transfer.';
const WEATHER_Q = 'What is the weather in Paris tomorrow?';
/** User text with markup: shown as typed, never parsed as HTML. */
const DOWN_NOTE = 'Not what I asked <b>at all</b>';
/** Answered well (not queued); 👎 only after its page changed. */
const MONTHLY_Q = 'How long can a monthly subscription be refunded?';
const CORRECTED =
  'Annual plans are refunded in full within 30 days of purchase. After three months we refund the unused whole months, minus a 10% administration fee. An Owner writes to billing@tallyho.example to ask.';

let fake: FakeOpenAI;
let dir: string;
let adapter: MemoryAdapter;
let parley: Parley;
let browser: Browser;
let base: string;
let monthlyAnswer: string;

function config(o: { knowledge?: string } = {}) {
  return loadConfig({
    STORE_URL: 'memory://',
    PORT: '0',
    ADMIN_TOKEN: TOKEN,
    LOG_LEVEL: 'silent',
    OPENAI_BASE_URL: fake.url,
    OPENAI_MODEL: 'fake-model',
    ...(o.knowledge ? { KNOWLEDGE_DIR: o.knowledge } : {}),
  });
}

let threads = 0;

/** Asks in a new thread through the engine; with `downNote`, a 👎 with that reason follows. Returns the answered message id. */
async function ask(p: Parley, a: MemoryAdapter, question: string, reply: string, downNote?: string): Promise<string> {
  fake.script(reply);
  const message = a.message(question, { thread: `T${++threads}` });
  const r = await p.engine.deliver(a, message);
  expect(r?.source).toBe('model');
  await p.support.desk.idle();
  if (downNote !== undefined) {
    await p.support.desk.feedback({
      platform: 'memory',
      answerId: message.id,
      kind: 'down',
      reason: downNote,
      user: { id: 'U-mia', name: 'Mia' },
      at: Date.now(),
    });
    await p.support.desk.idle();
  }
  return message.id;
}

async function queue(query = 'since=7d&status=all'): Promise<any[]> {
  const res = await fetch(`${base}/dashboard/review?${query}`, { headers: BEARER });
  expect(res.status).toBe(200);
  return ((await res.json()) as any).items;
}

function post(id: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/dashboard/review/${id}`, {
    method: 'POST',
    headers: { ...BEARER, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Cells of the queue's summary rows: [id, why, profile, question, status]. */
function rows(page: Page): Promise<string[][]> {
  return page.$$eval('#review-queue tr.review-row', (trs) =>
    trs.map((tr: any) => [
      tr.dataset.id,
      ...['.review-why', '.review-profile', '.review-question', '.review-status'].map((s) => tr.querySelector(s).textContent as string),
    ]),
  );
}

beforeAll(async () => {
  browser = await launchChromium();
  fake = await FakeOpenAI.start();
  dir = copyOfExample();
  adapter = new MemoryAdapter({ latencyMs: 1 });
  parley = await startParley(config({ knowledge: dir }), { log: silentLogger(), platforms: false, watch: false, extraAdapters: [adapter] });
  base = `http://127.0.0.1:${parley.port}`;
  // Groundedness 0: three numbers no passage has. And a general answer (no passages) with a 👎.
  await ask(parley, adapter, REFUND_Q, INVENTED);
  await ask(parley, adapter, WEATHER_Q, 'Paris will be sunny tomorrow.', DOWN_NOTE);
  monthlyAnswer = await ask(parley, adapter, MONTHLY_Q, 'Monthly subscriptions can be refunded within 14 days of a charge [1].');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await parley?.stop();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('review queue on the dashboard', () => {
  it('lists weak answers with why, expands one, marks one bad, and saves a correction the bot then answers from the FAQ', async () => {
    const { page, external, errors } = await watchedPage(browser, base);
    try {
      await signIn(page, base, TOKEN);
      await page.waitForSelector('#review[data-loaded=true]', { timeout: 20_000 });
      expect(await page.textContent('#review h2')).toBe('Review queue — weakest answers');
      expect(await page.inputValue('#review-by')).toBe('dashboard');
      // Analytics recorded the answers' groundedness: refund 0 (queued) and monthly 1; the weather answer had no passages.
      await page.waitForSelector('body[data-loaded=true]');
      expect(await page.textContent('#kpi-grounded')).toBe('0.50 · 1');

      // Weakest first: the 👎 (1) outweighs groundedness 0 (1 - 0 = 1 too; then the newer first).
      const listed = await rows(page);
      expect(listed.map((r) => r.slice(1))).toEqual([
        [`👎 ${DOWN_NOTE}`, 'default', WEATHER_Q, 'open'],
        ['grounded 0.00', 'default', REFUND_Q, 'open'],
      ]);
      expect(await page.$$('#review-queue .review-why b')).toHaveLength(0);
      const weatherId = listed[0]![0]!;
      const refundId = listed[1]![0]!;

      // Expand the low-groundedness answer: the answer, the sentences with invented numbers marked, the passages.
      await page.click(`tr.review-row[data-id="${refundId}"] .review-question`);
      const detail = `tr.review-detail[data-id="${refundId}"]`;
      await page.waitForSelector(detail);
      expect(await page.textContent(`${detail} .review-answer`)).toBe(INVENTED);
      expect(await page.$$eval(`${detail} .review-unsupported mark.invented`, (ms) => ms.map((m: any) => m.textContent))).toEqual(['90', '25', '2']);
      expect(await page.textContent(`${detail} .review-unsupported li:first-child`)).toBe('Annual plans can be refunded within 90 days.');
      const passages = await page.$$eval(`${detail} li.passage`, (ls) =>
        ls.map((l: any) => ({
          title: l.querySelector('.passage-title').textContent,
          location: l.querySelector('.passage-loc').textContent,
          text: l.querySelector('.passage-text').textContent,
          changed: !!l.querySelector('.passage-changed'),
        })),
      );
      expect(passages[0]).toMatchObject({ title: 'Refund policy › Annual plans', location: expect.stringContaining('billing/refunds.md'), changed: false });
      expect(passages[0]!.text).toContain('30 days');
      expect(await page.textContent(`${detail} .review-verdict`)).toContain('open — not reviewed yet');
      // The correction box starts from the answer as given.
      expect(await page.inputValue(`${detail} textarea.review-correction`)).toBe(INVENTED);
      // The FAQ question starts as asked; left as is, the entry is saved under it.
      expect(await page.inputValue(`${detail} input.review-faq-question`)).toBe(REFUND_Q);

      // A reviewer name, remembered by the browser; the 👎 answer marked bad.
      await page.fill('#review-by', 'Rita');
      await page.press('#review-by', 'Tab');
      await page.click(`tr.review-row[data-id="${weatherId}"] .review-question`);
      await page.click(`tr.review-detail[data-id="${weatherId}"] button.review-bad`);
      await page.waitForSelector(`tr.review-row[data-id="${weatherId}"][data-status=bad]`);
      expect(await page.textContent(`tr.review-detail[data-id="${weatherId}"] .review-verdict`)).toContain('bad — by Rita');
      const weather = (await queue()).find((i) => i.id === weatherId);
      expect(weather).toMatchObject({ status: 'bad', review: { verdict: 'bad', by: 'Rita' } });

      // The monthly-plan page changes meanwhile (the correction re-indexes the knowledge).
      const refunds = join(dir, 'billing/refunds.md');
      writeFileSync(refunds, readFileSync(refunds, 'utf8').replace('within **14 days** of a charge', 'within **7 days** of a charge'));

      // A refusal shows the server's own words: `error.message` of the one error body.
      await page.fill(`${detail} input.review-faq-question`, 'hi');
      await page.click(`${detail} button.review-save`);
      await page.waitForSelector(`${detail} .review-error`);
      expect(await page.textContent(`${detail} .review-error`)).toBe('question: at least 3 characters');
      await page.fill(`${detail} input.review-faq-question`, REFUND_Q);

      // The corrected answer, saved into the FAQ from the textarea.
      await page.fill(`${detail} textarea.review-correction`, CORRECTED);
      await page.click(`${detail} button.review-save`);
      await page.waitForSelector(`${detail} .review-result`, { timeout: 20_000 });
      const result = await page.textContent(`${detail} .review-result`);
      expect(result).toContain('reviewed-faq.yaml');
      expect(result).toContain('now answered from the FAQ');
      expect(await page.textContent(`tr.review-row[data-id="${refundId}"] .review-status`)).toBe('corrected');
      expect(await page.textContent(`${detail} .review-verdict`)).toMatch(/corrected — by Rita.*reviewed-faq\.yaml/);
      expect(await page.inputValue(`${detail} textarea.review-correction`)).toBe(CORRECTED);

      // The file a person would commit, with the answer as typed.
      const file = join(dir, 'reviewed-faq.yaml');
      expect(existsSync(file)).toBe(true);
      const entries = parse(readFileSync(file, 'utf8')) as { id: string; questions: string[]; answer: string; source?: string }[];
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ questions: [REFUND_Q], source: 'billing/refunds.md' });
      expect(entries[0]!.answer.trim()).toBe(CORRECTED);
      expect(result).toContain(`entry ${entries[0]!.id}, new`);

      // The same question again: from the FAQ, with the corrected text, and not one request to the model.
      const requests = fake.requests.length;
      const again = await parley.engine.deliver(adapter, adapter.message(REFUND_Q, { thread: 'T-again' }));
      expect(again?.source).toBe('faq');
      expect(again?.text).toContain(CORRECTED);
      expect(fake.requests.length).toBe(requests);

      // A 👎 on the monthly answer, given before its page changed: its passage is marked changed.
      await parley.support.desk.feedback({ platform: 'memory', answerId: monthlyAnswer, kind: 'down', user: { id: 'U-tom' }, at: Date.now() });
      await parley.support.desk.idle();

      // After a reload: the statuses persist, the filters read them, and the reviewer is remembered.
      await page.reload();
      await page.waitForSelector('#review[data-loaded=true]');
      expect(await page.inputValue('#review-by')).toBe('Rita');
      const open = await rows(page);
      expect(open.map((r) => r.slice(1))).toEqual([['👎', 'default', MONTHLY_Q, 'open']]);
      await page.click(`tr.review-row[data-id="${open[0]![0]}"]`);
      const monthly = await page.$$eval(`tr.review-detail[data-id="${open[0]![0]}"] li.passage`, (ls) =>
        ls.map((l: any) => ({
          title: l.querySelector('.passage-title').textContent,
          text: l.querySelector('.passage-text').textContent,
          changed: l.querySelector('.passage-changed')?.textContent ?? null,
        })),
      );
      expect(monthly.find((p) => p.title === 'Refund policy › Monthly plans')).toMatchObject({
        changed: 'changed since the answer',
        text: expect.stringContaining('**7 days**'),
      });
      expect(monthly.find((p) => p.title === 'Refund policy › Annual plans')?.changed ?? null).toBe(null);
      await page.selectOption('#review-status', 'bad');
      await page.waitForFunction((q) => (globalThis as any).document.querySelector('#review-queue .review-question')?.textContent === q, WEATHER_Q);
      expect((await rows(page)).map((r) => r[4])).toEqual(['bad']);
      await page.selectOption('#review-status', 'corrected');
      await page.waitForFunction((q) => (globalThis as any).document.querySelector('#review-queue .review-question')?.textContent === q, REFUND_Q);
      expect((await rows(page)).map((r) => r[4])).toEqual(['corrected']);
      expect(external).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('guards the endpoints: sign-in, JSON only, same origin, a valid body, a known id', async () => {
    await ask(parley, adapter, 'Can I pay with a cheque?', 'Sadly no.', 'unclear');
    const id = (await queue()).find((i) => i.question === 'Can I pay with a cheque?')!.id as string;
    expect((await fetch(`${base}/dashboard/review`)).status).toBe(401);
    expect(
      (await fetch(`${base}/dashboard/review/${id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"verdict":"good"}' })).status,
    ).toBe(401);

    // A cross-site form post cannot send JSON; a foreign page's fetch carries its Origin.
    expect((await post(id, 'verdict=good', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post(id, '{"verdict":"good"}', { 'content-type': 'text/plain' })).status).toBe(415);
    const foreign = await post(id, { verdict: 'good' }, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as any).error.code).toBe('origin_not_allowed');
    const untouched = (await queue()).find((i) => i.id === id);
    expect(untouched.status).toBe('open');
    expect(untouched.review).toBeUndefined();

    for (const [body, field] of [
      [{ verdict: 'meh' }, 'verdict'],
      [{}, 'verdict'],
      [{ correction: '   ' }, 'correction'],
      [{ verdict: 'good', correction: 'x' }, 'correction'],
      [{ verdict: 'good', by: 7 }, 'by'],
      [{ verdict: 'good', extra: 1 }, 'extra'],
      [{ verdict: 'good', question: 'How do refunds work?' }, 'question'],
      [{ correction: 'Yes.', question: 'hi' }, 'question'],
      [[1], 'body'],
      ['{not json', 'body'],
    ] as const) {
      const res = await post(id, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = ((await res.json()) as any).error;
      expect(err.code, JSON.stringify(body)).toBe(typeof body === 'string' ? 'invalid_json' : 'invalid_request');
      expect(err.field, JSON.stringify(body)).toBe(field);
      expect(err.message.startsWith(`${field}: `), err.message).toBe(true);
    }
    const badQuery = await fetch(`${base}/dashboard/review?status=closed`, { headers: BEARER });
    expect(badQuery.status).toBe(400);
    expect(((await badQuery.json()) as any).error.field).toBe('status');
    const badLimit = await fetch(`${base}/dashboard/review?limit=0`, { headers: BEARER });
    expect([badLimit.status, ((await badLimit.json()) as any).error.field]).toEqual([400, 'limit']);
    // The weakest `limit` items, with the total.
    const all = await queue('since=7d&status=all');
    const one = (await (await fetch(`${base}/dashboard/review?since=7d&status=all&limit=1`, { headers: BEARER })).json()) as any;
    expect([one.total, one.items.map((i: any) => i.id)]).toEqual([all.length, [all[0].id]]);

    const unknown = await post('ffffffffff', { verdict: 'good' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as any).error.code).toBe('review_not_found');

    // From this very page (its own Origin), with a note: accepted.
    const ok = await post(id, { verdict: 'good', note: 'fine after all', by: 'Sam' }, { origin: base });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).item).toMatchObject({ id, status: 'good', review: { verdict: 'good', by: 'Sam', note: 'fine after all' } });
    expect((await queue('since=7d&status=good')).map((i) => i.id)).toEqual([id]);
  });

  it('answers 409 when the profile reads no knowledge folder, so there is no FAQ to save to', async () => {
    const a = new MemoryAdapter({ latencyMs: 1 });
    const bare = await startParley(config(), { log: silentLogger(), platforms: false, watch: false, extraAdapters: [a] });
    try {
      await ask(bare, a, 'Do you have a status page?', 'Yes, at status.example.', 'wrong URL');
      const url = `http://127.0.0.1:${bare.port}/dashboard/review`;
      const [item] = ((await (await fetch(`${url}?since=7d`, { headers: BEARER })).json()) as any).items;
      const res = await fetch(`${url}/${item.id}`, {
        method: 'POST',
        headers: { ...BEARER, 'content-type': 'application/json' },
        body: JSON.stringify({ correction: 'See the status page.' }),
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as any).error.code).toBe('no_knowledge');
      expect((await bare.support.review.get(item.id))?.status).toBe('open');
    } finally {
      await bare.stop();
    }
  });

  it('leaves the card and the endpoints out when the dashboard has no review service', async () => {
    const http = new HttpServer(silentLogger());
    mountDashboard({ http, analytics: parley.support.analytics, adminToken: TOKEN, log: silentLogger() });
    const port = await http.listen(0, '127.0.0.1');
    try {
      const html = await (await fetch(`http://127.0.0.1:${port}/dashboard`, { headers: BEARER })).text();
      expect(html).toContain('id="unanswered"');
      expect(html).not.toContain('id="review"');
      expect((await fetch(`http://127.0.0.1:${port}/dashboard/review`, { headers: BEARER })).status).toBe(404);
      expect(
        (
          await fetch(`http://127.0.0.1:${port}/dashboard/review/ffffffffff`, {
            method: 'POST',
            headers: { ...BEARER, 'content-type': 'application/json' },
            body: '{"verdict":"good"}',
          })
        ).status,
      ).toBe(404);
      const script = await (await fetch(`http://127.0.0.1:${port}/dashboard/assets/dashboard.js`)).text();
      expect(script).not.toContain('/dashboard/review');
    } finally {
      await http.close();
    }
  });
});
