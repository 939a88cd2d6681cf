import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/kernel/logger.js';
import { expandQuestion, questionParts, terms, words } from '../../src/knowledge/analyzer.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { quotePassages, selectPassages } from '../../src/knowledge/selection.js';
import { DEFAULT_KNOWLEDGE_SETTINGS } from '../../src/config/knowledge.js';
import { tokenize } from '../../src/quality/metrics.js';
import { exampleKnowledge } from './helpers.js';

describe('the analyzer', () => {
  it('stems with Porter: word forms meet, and "meaning" is not a hand-made "means"', () => {
    expect(terms('refunds refunded refunding')).toEqual(['refund', 'refund', 'refund']);
    expect(terms('invoicing invoices')).toEqual(['invoic', 'invoic']);
    expect(terms('cancelled cancellation')).toEqual(['cancel', 'cancel']);
  });

  it('drops stop words, chat spellings included, and keeps negations and on/off', () => {
    expect(terms('hey can u pls tell me how ur webhooks work')).toEqual(['tell', 'webhook', 'work']);
    expect(terms('turn off 2FA')).toEqual(['turn', 'off', '2fa']);
    expect(terms("I can't and don't")).toEqual(['cant', 'dont']);
  });

  it('segments Chinese into dictionary words plus character pairs, so questions and pages meet either way', () => {
    const q = new Set(terms('重置链接多久失效'));
    const page = new Set(terms('重置链接的有效期为 1 小时,且只能使用一次。'));
    expect(q.has('重置') && page.has('重置')).toBe(true);
    expect(q.has('链接') && page.has('链接')).toBe(true);
    expect(terms('年付套餐可以退款吗')).toContain('退款');
    // Question words and particles are stop words.
    expect(terms('怎么可以')).toEqual(['么可']); // the two stop words go; only the pair across them is left
    expect(words('怎么可以')).toEqual(['怎么', '可以', '怎么', '么可', '可以']);
  });

  it('gives the metrics one token per Chinese character and keeps Thai words whole', () => {
    expect(tokenize('退款期限为三十天。')).toEqual(['退', '款', '期', '限', '为', '三', '十', '天']);
    expect(tokenize('สวัสดีครับ').join('')).toBe('สวัสดีครับ');
  });

  it("maps chat words to the docs' words in questions", () => {
    expect(expandQuestion('forgot my pw')).toBe('forgot my password');
    expect(expandQuestion('can i get my money back')).toBe('can i get my refund');
    expect(expandQuestion('how do i add my coworkers')).toBe('how do i add my team members');
    expect(expandQuestion('how do i bill a client for the hours')).toBe('how do i invoice client for the hours');
    expect(expandQuestion('how do i add hours i forgot')).toBe('how do i add time entry manually i forgot');
    expect(expandQuestion('timer doesnt show up on my laptop')).toBe('timer not syncing on my laptop');
    expect(expandQuestion('went to lunch and the timer kept running')).toBe('idle and the timer kept running');
  });

  it('splits a message into its questions only when it asks several', () => {
    expect(questionParts('how do i cancel? and can i get a refund?')).toEqual(['how do i cancel?', 'and can i get a refund?']);
    const chatty = 'sent a bunch of test events yesterday and now nothing arrives. why are webhooks failing?';
    expect(questionParts(chatty)).toEqual([chatty]);
  });
});

describe('ranking customer phrasings over the example knowledge', () => {
  let kb: KnowledgeBase;
  beforeAll(async () => {
    kb = await exampleKnowledge();
  });
  const sent = async (q: string) => selectPassages(await kb.search(q, { k: DEFAULT_KNOWLEDGE_SETTINGS.topK }), DEFAULT_KNOWLEDGE_SETTINGS);
  const pages = async (q: string) => (await sent(q)).relevant.map((h) => h.passage.path);

  it('finds the page for a misspelt question (typo tolerance)', async () => {
    expect(await pages('can i conect quikbooks')).toContain('integrations/quickbooks.md');
    expect((await pages('my subscribtion payment failed'))[0]).toBe('billing/payment-methods.md');
  });

  it('finds the page through a chatty preamble and chat spellings', async () => {
    expect(await pages('sent a bunch of test events yesterday and now my endpoint gets nothing, did u turn off the webhook?')).toContain('api/webhooks.md');
    expect(await pages('hi! i forgot my pw and cant log in, what do i do')).toContain('account/reset-password.md');
  });

  it('sends a page for each question of a two-question message', async () => {
    const got = await pages('how do i invite people? also what does a seat cost per month');
    expect(got).toContain('getting-started/invite-team.md');
    expect(got).toContain('billing/plans-and-pricing.md');
  });

  it('corrects a word the docs do not have by one typo, a swap of letters included, but not a short word', async () => {
    expect((await pages('how do i get a refnud'))[0]).toBe('billing/refunds.md');
    // "paris" is one letter from "pays": too short a word to correct, so nothing is related.
    expect((await sent('What will the weather be in Paris tomorrow?')).relevant).toEqual([]);
  });

  it("quotes the best page alone when it leads clearly, and a close second page's best passage too", async () => {
    const clear = await sent('Can I get a refund on an annual plan after three months?');
    expect(new Set(quotePassages(clear.relevant, DEFAULT_KNOWLEDGE_SETTINGS).map((h) => h.passage.path))).toEqual(new Set(['billing/refunds.md']));
    const hits = await kb.search('can i make an invoice without any tracked time', { k: DEFAULT_KNOWLEDGE_SETTINGS.topK });
    const { relevant } = selectPassages(hits, DEFAULT_KNOWLEDGE_SETTINGS);
    const quoted = quotePassages(relevant, DEFAULT_KNOWLEDGE_SETTINGS);
    expect(new Set(quoted.map((h) => h.passage.path)).size).toBe(2);
    expect(quoted.map((h) => h.passage.path)).toContain('invoicing/create-invoice.md');
    // With no room for a second page (margin 1), only the best page is quoted.
    expect(new Set(quotePassages(relevant, { quoteMargin: 1 }).map((h) => h.passage.path)).size).toBe(1);
  });

  it('answers Chinese from the Chinese pages', async () => {
    expect((await pages('年付的可以退款吗?'))[0]).toBe('zh/refunds.md');
    expect((await pages('忘记密码了怎么办'))[0]).toBe('zh/password.md');
  });

  it('quotes without a model only when confident: not "the meaning of life", yes a clear refund question', async () => {
    expect((await sent('What is the meaning of life?')).confident).toBe(false);
    expect((await sent('whats the weather in berlin tomorrow')).relevant).toEqual([]);
    const refund = await sent('Can I get a refund on an annual plan after three months?');
    expect(refund.confident).toBe(true);
    expect(refund.relevant[0]!.passage.path).toBe('billing/refunds.md');
  });
});

describe('a large index: words most passages contain', () => {
  let dir: string;
  let kb: KnowledgeBase;
  beforeAll(async () => {
    // 150 pages of 4 sections, each saying "invoice": 600 passages, past the 500 a common word needs.
    dir = mkdtempSync(join(tmpdir(), 'parley-common-'));
    mkdirSync(join(dir, 'pages'));
    for (let i = 0; i < 150; i++) {
      const sections = Array.from(
        { length: 4 },
        (_, j) => `## Part ${j} of topic ${i}\n\n${`Every invoice of topic ${i} part ${j} is described here at length for the customer. `.repeat(4)}`,
      );
      writeFileSync(join(dir, 'pages', `p${i}.md`), `# Topic ${i}\n\n${sections.join('\n\n')}\n`);
    }
    writeFileSync(join(dir, 'pages', 'reminders.md'), '# Invoice reminders\n\nOverdue invoices get a polite reminder email after seven days.\n');
    writeFileSync(join(dir, 'pages', 'timesheets.md'), '# Timesheet reminders\n\nOverdue timesheets get a polite reminder email after seven days.\n');
    kb = new KnowledgeBase([{ name: 'big', dir, displayPath: 'big' }], { log: silentLogger() });
    await kb.load();
    return () => rmSync(dir, { recursive: true, force: true });
  });

  it('searches the rarer words of the question, then scores the common ones on what they found; common words alone on titles', async () => {
    expect(kb.size).toBeGreaterThan(600);
    const rare = await kb.search('invoice overdue reminder', { k: 3 });
    // Both pages match the rare words; the common "invoice" decides between them, and counts as matched.
    expect(rare.map((h) => h.passage.path).slice(0, 2)).toEqual(['pages/reminders.md', 'pages/timesheets.md']);
    expect(rare[0]!.matched).toEqual(['overdu', 'remind', 'invoic']);
    expect(rare[0]!.coverage).toBe(1);
    expect(rare[1]!.coverage).toBeLessThan(1);
    const common = await kb.search('invoice', { k: 3 });
    expect(common[0]!.passage.path).toBe('pages/reminders.md');
  });
});
