import { describe, expect, it } from 'vitest';
import { bestFaqMatch, parseFaqFile } from '../../src/knowledge/faq.js';
import { ConfigError } from '../../src/kernel/errors.js';
import { exampleKnowledge } from './helpers.js';

const THRESHOLD = 0.8;

describe('FAQ matching', () => {
  it('matches rephrasings of a variant above the threshold', async () => {
    const kb = await exampleKnowledge();
    for (const [q, id] of [
      ['How do I reset my password?', 'reset-password'],
      ['how to reset password', 'reset-password'],
      ['I forgot my password!', 'reset-password'],
      ['Hi, how do I enable 2FA please?', 'enable-2fa'],
      ['What is the API rate limit', 'api-rate-limit'],
    ] as const) {
      const m = kb.faqMatch(q);
      expect(m?.entry.id, q).toBe(id);
      expect(m!.score, q).toBeGreaterThanOrEqual(THRESHOLD);
    }
  });

  it('never gives a canned answer to a near-miss: a different object, an opposite, or a more specific question', async () => {
    const kb = await exampleKnowledge();
    for (const q of [
      'How do I reset my API token?', // same verb, different object
      'How do I turn off two-factor authentication?', // the opposite of "turn on"
      'Can I get a refund on the Solo plan after three months?', // a specific case the canned answer does not settle
      'Is there a Linux server version?', // shares "Linux", asks something else
      'How much does the Business plan cost for 50 people?', // needs arithmetic, not the price list
      'Where is my invoice data stored in the US?', // close to "where is my data stored"
    ]) {
      const m = kb.faqMatch(q);
      expect(m?.score ?? 0, `${q} matched ${m?.entry.id} (${m?.variant})`).toBeLessThan(THRESHOLD);
    }
  });

  it('rejects a malformed FAQ file naming the entry, key and line', () => {
    const text = '- questions: [How do I reset my password?]\n  answer: Use the link.\n- questions: [Cancel?]\n  anwser: typo\n';
    expect(() => parseFaqFile('kb/faq.yaml', text)).toThrow(ConfigError);
    try {
      parseFaqFile('kb/faq.yaml', text);
    } catch (e) {
      expect((e as ConfigError).message).toMatch(/^1\.anwser: unknown key .*kb\/faq\.yaml line 4/);
    }
  });

  it('scores by Jaccard similarity of meaningful terms (stopwords ignored, negations kept)', () => {
    const entries = parseFaqFile('faq.yaml', '- questions: [Can I export my timesheets?]\n  answer: Yes.\n');
    expect(bestFaqMatch(entries, 'can i export timesheets')!.score).toBe(1);
    expect(bestFaqMatch(entries, 'can I not export timesheets')!.score).toBeCloseTo(2 / 3);
  });
});
