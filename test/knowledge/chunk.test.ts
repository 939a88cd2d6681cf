import { describe, expect, it } from 'vitest';
import { chunkMarkdown, chunkPlainText } from '../../src/knowledge/chunk.js';

describe('chunking', () => {
  it('cuts Markdown at headings, titles each chunk "Page › Section" and gives it a stable anchor id', () => {
    const md = [
      '# Refund policy',
      '',
      'Refunds depend on the plan you are on, and on when you ask for them; read the section for your plan below.',
      '',
      '## Monthly plans',
      '',
      'Monthly subscriptions can be refunded within 14 days of a charge, as long as no invoices were sent in that period of time.',
      '',
      '## Annual plans',
      '',
      'Annual plans can be refunded in full within 30 days of purchase; after that the unused whole months, minus a fee of ten percent.',
    ].join('\n');
    const chunks = chunkMarkdown('billing/refunds.md', md, { maxChars: 1_000, minChars: 50 });
    expect(chunks.map((c) => [c.id, c.title])).toEqual([
      ['billing/refunds.md#top', 'Refund policy'],
      ['billing/refunds.md#monthly-plans', 'Refund policy › Monthly plans'],
      ['billing/refunds.md#annual-plans', 'Refund policy › Annual plans'],
    ]);
    expect(chunks[2]!.text).toMatch(/^Annual plans can be refunded/);
    expect(chunks[2]!.anchor).toBe('annual-plans');
  });

  it('ignores # lines inside code fences', () => {
    const md =
      '# API\n\nIntro text that is long enough to stand on its own as a chunk of the page here.\n\n## Example\n\n```sh\n# not a heading\ncurl https://api.example/v2\n```\n';
    const chunks = chunkMarkdown('api.md', md, { maxChars: 1_000, minChars: 10 });
    expect(chunks.map((c) => c.title)).toEqual(['API', 'API › Example']);
    expect(chunks[1]!.text).toContain('# not a heading');
  });

  it('merges a section shorter than minChars into the previous chunk and splits one longer than maxChars on paragraphs', () => {
    const para = (n: number) => `Paragraph ${n} ${'word '.repeat(40)}`.trim();
    const md = `# Guide\n\n${para(1)}\n\n## Tiny\n\nShort note.\n\n## Long\n\n${[2, 3, 4, 5].map(para).join('\n\n')}`;
    const chunks = chunkMarkdown('guide.md', md, { maxChars: 450, minChars: 50 });
    // "Tiny" joined the introduction, with its heading kept in the text.
    expect(chunks[0]!.text).toContain('Tiny\nShort note.');
    const long = chunks.filter((c) => c.anchor === 'long');
    expect(long.length).toBeGreaterThan(1);
    expect(long.map((c) => c.id)).toEqual(['guide.md#long', 'guide.md#long-2', ...long.slice(2).map((_, i) => `guide.md#long-${i + 3}`)]);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(450);
    // Nothing is lost: every paragraph is in exactly one chunk.
    for (const n of [1, 2, 3, 4, 5]) expect(chunks.filter((c) => c.text.includes(`Paragraph ${n} `))).toHaveLength(1);
  });

  it('packs plain text paragraphs under the file name', () => {
    const chunks = chunkPlainText('notes/release-notes.txt', 'First paragraph.\n\nSecond paragraph.', { maxChars: 1_000, minChars: 0 });
    expect(chunks).toEqual([
      {
        id: 'notes/release-notes.txt#part-1',
        path: 'notes/release-notes.txt',
        title: 'Release notes',
        anchor: '',
        text: 'First paragraph.\n\nSecond paragraph.',
      },
    ]);
  });
});
