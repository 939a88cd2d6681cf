import { describe, expect, it } from 'vitest';
import type { Hit, Passage } from '../../src/knowledge/base.js';
import { withNeighbours } from '../../src/knowledge/selection.js';
import { quoted } from '../../src/knowledge/middleware.js';
import { DEFAULT_KNOWLEDGE_SETTINGS } from '../../src/config/knowledge.js';
import { exampleKnowledge } from './helpers.js';

/** A page of sections of the given lengths: `a#0`, `a#1`, … */
function page(name: string, lengths: number[]): Passage[] {
  return lengths.map((n, i) => ({
    key: `s:${name}#${i}`,
    id: `${name}#${i}`,
    source: 's',
    path: name,
    title: `${name} › ${i}`,
    anchor: String(i),
    text: 'x'.repeat(n),
    location: `${name}#${i}`,
    hash: '',
  }));
}
const hit = (p: Passage): Hit => ({ passage: p, score: 1, coverage: 1, lexical: 1 });
const ids = (ps: readonly Passage[]) => ps.map((p) => p.anchor);

describe('small-to-big: chosen passages go with their neighbours', () => {
  const a = page('a', [100, 100, 100, 100, 100, 100]);
  const b = page('b', [100, 100]);
  // As KnowledgeBase.pageOf: an FAQ entry (it has a quote) is no page's section.
  const pageOf = (p: Passage) => (p.quote !== undefined ? [p] : p.path === 'a' ? a : b);

  it('grows a chosen passage into the next and previous sections while the block fits: the chosen one first, then its neighbours in page order', () => {
    const [block] = withNeighbours([hit(a[2]!)], pageOf, 350);
    expect(ids(block!.passages)).toEqual(['2', '1', '3']);
    expect(ids(withNeighbours([hit(a[2]!)], pageOf, 10_000)[0]!.passages)).toEqual(['2', '0', '1', '3', '4', '5']);
    // A budget smaller than the passage itself gives the passage alone.
    expect(ids(withNeighbours([hit(a[2]!)], pageOf, 50)[0]!.passages)).toEqual(['2']);
  });

  it('joins the chosen passages of one page into one block (gaps first), keeps pages in the order of their best hit, FAQ entries alone', () => {
    const faq: Passage = { ...b[0]!, key: 's:faq#q', quote: 'the answer' };
    const blocks = withNeighbours([hit(a[4]!), hit(b[1]!), hit(a[1]!), hit(faq)], pageOf, 450);
    expect(blocks.map((x) => x.hits.map((h) => h.passage.key))).toEqual([['s:a#4', 's:a#1'], ['s:b#1'], ['s:faq#q']]);
    expect(ids(blocks[0]!.passages)).toEqual(['4', '1', '2', '3']);
    expect(ids(blocks[1]!.passages)).toEqual(['1', '0']);
    expect(blocks[2]!.passages).toEqual([faq]);
  });

  it('degraded mode quotes the section that matched with its neighbours on the page, citing the section', async () => {
    const kb = await exampleKnowledge();
    const hits = await kb.search('How do I verify webhook signatures?', { k: 5 });
    const reply = quoted(hits.slice(0, 1), 'note', DEFAULT_KNOWLEDGE_SETTINGS, kb.pageOf.bind(kb));
    expect(reply.text).toContain('**Webhooks › Verifying signatures**\n> Each delivery has a `Tallyho-Signature` header');
    // The sections around it on the same (short) page come with it.
    expect(reply.text).toContain('**Webhooks › Retries**');
    expect(reply.text.indexOf('Webhooks › Verifying signatures')).toBeLessThan(reply.text.indexOf('Webhooks › Subscribe'));
    expect(reply.text.indexOf('Webhooks › Subscribe')).toBeLessThan(reply.text.indexOf('Webhooks › Retries'));
    expect(reply.citations).toEqual([expect.objectContaining({ location: 'examples/knowledge/api/webhooks.md#verifying-signatures' })]);
  });
});
