import type { KnowledgeSettings } from '../config/knowledge.js';
import { coverageOf, RRF_K, type Hit, type Passage } from './base.js';

/**
 * What retrieval hands on, once the index has ranked: which passages count (the relevance
 * decision), what degraded mode quotes and whether it may, how the question's and a rewritten
 * query's passages are fused, and which neighbours go with a chosen passage (small-to-big).
 */

type SelectionSettings = Pick<KnowledgeSettings, 'threshold' | 'scoreRatio' | 'quoteThreshold' | 'quoteMargin' | 'quoteMinScore' | 'embeddingThreshold'>;

/**
 * Which hits go to the model, and whether the best is good enough to quote without one. Not a
 * per-passage share-of-terms gate: when the best passage is plausibly related (it matches a
 * small IDF-weighted share of the question, or its embedding is close), the best few are sent
 * (those within `scoreRatio` of the best score), and the model, told to decline when they do
 * not answer, judges. Quoting without a model is stricter (the quoted passages together must
 * cover a larger share, and the best must score well), since no reader checks the quote; a close
 * second page is quoted too rather than required to lose clearly. Thresholds are learnt on the tune half of
 * examples/eval/customers.yaml (docs/knowledge.md).
 */
export function selectPassages(hits: Hit[], s: SelectionSettings): { relevant: Hit[]; confident: boolean } {
  const best = hits[0];
  const close = (h: Hit) => h.similarity !== undefined && h.similarity >= s.embeddingThreshold;
  if (!best || !hits.some((h) => h.coverage >= s.threshold || close(h))) return { relevant: [], confident: false };
  const top = Math.max(...hits.map((h) => h.lexical));
  const relevant = hits.filter((h) => close(h) || (h.lexical > 0 && h.lexical >= s.scoreRatio * top));
  const lead = relevant[0];
  if (!lead) return { relevant, confident: false };
  // No rank margin here: when another page is close, the quote shows it too (see `quotePassages`),
  // and what must cover the question is the quote as a whole.
  const quote = quotePassages(relevant, s).filter((h) => h.weights === lead.weights);
  const coverage = lead.weights
    ? coverageOf(
        quote.map((h) => h.matched ?? []),
        lead.weights,
      )
    : lead.coverage;
  return { relevant, confident: coverage >= s.quoteThreshold && lead.lexical >= s.quoteMinScore };
}

/** Whether a hit alone would count as plausibly related (kept for callers that look at one hit). */
export function isRelevant(h: Hit, s: Pick<KnowledgeSettings, 'threshold' | 'embeddingThreshold'>): boolean {
  return h.coverage >= s.threshold || (h.similarity !== undefined && h.similarity >= s.embeddingThreshold);
}

/** Most passages quoted without a model: a section and its neighbours carry the answer more often than one section alone. */
const QUOTE_PASSAGES = 3;

const samePage = (a: Hit, b: Hit) => a.passage.path === b.passage.path && a.passage.source === b.passage.source;

/**
 * What degraded mode quotes: the best page's best passages. When another page scores within
 * `quoteMargin` of the best (the ranking cannot tell them apart), its best passage is quoted
 * too, after two of the best page's, so the asker sees both candidates instead of a coin toss.
 */
export function quotePassages(relevant: readonly Hit[], s: Pick<KnowledgeSettings, 'quoteMargin'>): Hit[] {
  const lead = relevant[0];
  if (!lead) return [];
  const page = relevant.filter((h) => samePage(h, lead));
  const rival = relevant.find((h) => !samePage(h, lead));
  if (!rival || rival.lexical <= 0 || lead.lexical / rival.lexical >= s.quoteMargin) return page.slice(0, QUOTE_PASSAGES);
  return [...page.slice(0, QUOTE_PASSAGES - 1), rival];
}

/**
 * Reciprocal-rank fusion of the question's relevant passages and the rewritten query's (each
 * decided by `selectPassages` for its own query), the question's first on ties. Passages both
 * found rank first; otherwise the two lists alternate, so the question's best passage is always
 * sent and a raw passage leaves the `k` sent only for passages ranked above it by the rewrite
 * or by both: a bad rewrite cannot lose a good raw hit.
 */
export function fuseRelevant(raw: readonly Hit[], rewritten: readonly Hit[], k: number): Hit[] {
  const fused = new Map<string, { hit: Hit; score: number; order: number }>();
  const add = (list: readonly Hit[], from: number) =>
    list.forEach((h, i) => {
      const known = fused.get(h.passage.key);
      if (known) known.score += 1 / (RRF_K + i);
      else fused.set(h.passage.key, { hit: h, score: 1 / (RRF_K + i), order: from + 2 * i });
    });
  add(raw, 0);
  add(rewritten, 1);
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, k)
    .map((f) => f.hit);
}

/** One page's chosen passages with the neighbours that go with them. */
export interface PassageBlock {
  /** The chosen hits of this page, best first: what the block is cited as. */
  hits: Hit[];
  /** What is given: the chosen passages (best first), then their neighbours in page order. */
  passages: Passage[];
}

/**
 * How much of a page goes with its chosen passages: the default largest passage
 * (`chunk.maxChars`), so a block is never longer than one full-size passage was (or than its
 * chosen passages alone) and the prompt stays within `topK` full-size passages.
 */
export const WINDOW_CHARS = 1_500;

/**
 * Small-to-big (LlamaIndex's sentence window and auto-merging retrievers): passages are ranked
 * small, for precision, but the fact a question needs often sits in the next section ("how do I
 * check a webhook came from you" matches Subscribe; the signature is in Verifying signatures). So
 * each page's chosen passages are given together, best first (the block's header names the
 * best, and readers weigh what comes first), followed by the sections between them and then
 * their neighbours (next, previous, alternately), in page order, while the block fits
 * `maxChars`. Pages keep the order of their best hit; FAQ entries stand alone.
 */
export function withNeighbours(hits: readonly Hit[], pageOf: (p: Passage) => readonly Passage[], maxChars = WINDOW_CHARS): PassageBlock[] {
  const blocks = new Map<readonly Passage[], Hit[]>();
  for (const h of hits) {
    const page = pageOf(h.passage);
    blocks.set(page, [...(blocks.get(page) ?? []), h]);
  }
  return [...blocks].map(([page, chosen]) => {
    const at = chosen.map((h) => page.indexOf(h.passage)).filter((i) => i >= 0);
    if (at.length < chosen.length) return { hits: chosen, passages: chosen.map((h) => h.passage) };
    const taken = new Set(at);
    let size = at.reduce((sum, i) => sum + page[i]!.text.length, 0);
    const budget = Math.max(maxChars, size);
    const fits = (i: number) => {
      if (size + page[i]!.text.length > budget) return false;
      size += page[i]!.text.length;
      taken.add(i);
      return true;
    };
    const first = Math.min(...at);
    const last = Math.max(...at);
    for (let i = first + 1; i < last; i++) if (!taken.has(i)) fits(i);
    let next = last + 1;
    let previous = first - 1;
    while (next < page.length || previous >= 0) {
      if (next < page.length && fits(next)) next++;
      else next = page.length;
      if (previous >= 0 && fits(previous)) previous--;
      else previous = -1;
    }
    const around = [...taken].filter((i) => !at.includes(i)).sort((a, b) => a - b);
    return { hits: chosen, passages: [...at, ...around].map((i) => page[i]!) };
  });
}
