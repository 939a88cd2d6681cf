import { describe, expect, it } from 'vitest';
import { citationFooter } from '../../src/knowledge/citations.js';

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
    expect(citationFooter(cites.slice(0, 1), 'plain')).toBe('Sources:\n  [1] Refund policy › Annual plans — https://docs.tallyho.example/billing/refunds.md#annual-plans');
    expect(citationFooter([], 'slack')).toBe('');
  });
});
