import { describe, expect, it } from 'vitest';
import { citationFooter, citationNumbers, stripCitations } from '../../src/knowledge/citations.js';

const cites = [
  { id: 'a', title: 'Refund policy › Annual plans', location: 'https://docs.tallyho.example/billing/refunds.md#annual-plans' },
  { id: 'b', title: 'Webhooks <v2> | [beta]', location: 'examples/knowledge/api/webhooks.md' },
];

describe('citation footers per platform', () => {
  it('Slack: mrkdwn links, titles escaped so they cannot break the link or inject markup', () => {
    expect(citationFooter(cites, 'slack')).toBe(
      '*Sources*\n1. <https://docs.tallyho.example/billing/refunds.md#annual-plans|Refund policy › Annual plans>\n2. Webhooks &lt;v2&gt; ¦ [beta] — `examples/knowledge/api/webhooks.md`',
    );
  });

  it('Discord: Markdown links in <…> (no embeds), Markdown in titles escaped', () => {
    expect(citationFooter(cites, 'discord')).toBe(
      '**Sources**\n1. [Refund policy › Annual plans](<https://docs.tallyho.example/billing/refunds.md#annual-plans>)\n2. Webhooks <v2\\> \\| \\[beta\\] — `examples/knowledge/api/webhooks.md`',
    );
  });

  it('plain text for the terminal, and nothing without citations', () => {
    expect(citationFooter(cites.slice(0, 1), 'plain')).toBe(
      'Sources:\n  [1] Refund policy › Annual plans — https://docs.tallyho.example/billing/refunds.md#annual-plans',
    );
    expect(citationFooter([], 'slack')).toBe('');
  });
});

describe('citation markers in answers', () => {
  it('reads the passage numbers of [1], [1, 2] and [1,2], in order of first mention, each once', () => {
    expect(citationNumbers('Refunds [1, 2]. Seats [3]. Again [1]. Tight [4,5]. Not a marker: [a] [] [1 2] [x](https://e.example).')).toEqual([1, 2, 3, 4, 5]);
    expect(citationNumbers('No citations here.')).toEqual([]);
  });

  it('strips markers with the spaces before them, never a line break, and keeps words apart', () => {
    expect(stripCitations('Refunded within 30 days [1]. Fee applies [1, 2].')).toBe('Refunded within 30 days. Fee applies.');
    expect(stripCitations('First line\n[2] Second line')).toBe('First line\n Second line');
    expect(stripCitations('price[1]30 days')).toBe('price 30 days');
  });
});
