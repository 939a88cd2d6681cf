import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groundedness, sentences } from '../../src/knowledge/groundedness.js';
import { EXAMPLE_DIR } from '../knowledge/helpers.js';

// The real pages the pipeline would retrieve for a refund question.
const refunds = readFileSync(join(EXAMPLE_DIR, 'billing/refunds.md'), 'utf8');
const pricing = readFileSync(join(EXAMPLE_DIR, 'billing/plans-and-pricing.md'), 'utf8');

describe('groundedness', () => {
  it('scores an answer that restates the passages (with citations) as fully supported', () => {
    const g = groundedness(
      'Annual plans can be refunded in full within 30 days of purchase [1]. After that, the unused whole months are refunded, minus a 10% administration fee [1]. ' +
        'Refunds go back to the original payment method within 5 to 10 business days [1].',
      [refunds, pricing],
    );
    expect(g).toEqual({ groundedness: 1, judged: 3, unsupported: [] });
  });

  it('scores an invented answer low: invented numbers and claims found in no passage', () => {
    const g = groundedness(
      'Annual plans can be refunded in full within 90 days of purchase. After that we keep a 25% administration fee. Our phone line is staffed around the clock by engineers.',
      [refunds, pricing],
    );
    expect(g.groundedness).toBe(0);
    expect(g.unsupported.map((u) => u.inventedNumbers)).toEqual([['90'], ['25'], []]);
    // The first sentence shares every word with the passage: only its number gives it away.
    expect(g.unsupported[0]!.support).toBe(1);
    expect(g.unsupported[2]!.support).toBeLessThan(0.5);
  });

  it('counts the share of supported sentences, and a number the passages do have is fine', () => {
    const g = groundedness('The Team plan costs $12 per seat per month. It also includes a free espresso machine for every office.', [pricing]);
    expect(g.judged).toBe(2);
    expect(g.groundedness).toBe(0.5);
    expect(g.unsupported).toHaveLength(1);
    expect(g.unsupported[0]!.text).toBe('It also includes a free espresso machine for every office.');
  });

  it('does not judge filler sentences, and an answer of filler only is not penalised', () => {
    expect(groundedness('Sure! Hope this helps.', [refunds])).toEqual({ groundedness: 1, judged: 0, unsupported: [] });
  });

  it('works per character for Chinese, and catches an invented Arabic-digit number there too', () => {
    const passage = '年度套餐在购买后30天内可以全额退款。';
    expect(groundedness('年度套餐可在购买后30天内全额退款。', [passage]).groundedness).toBe(1);
    expect(groundedness('年度套餐可在购买后90天内全额退款。', [passage]).groundedness).toBe(0);
  });

  it('splits answers into sentences, list items and lines, without citation markers or emphasis', () => {
    expect(sentences('Sure!\n- First **item** [1].\n2. Second: 1,200 seats. Third [1, 2].')).toEqual([
      'Sure!',
      'First item.',
      'Second: 1,200 seats.',
      'Third.',
    ]);
  });
});
