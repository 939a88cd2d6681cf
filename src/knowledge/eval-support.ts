import type { Citation } from '../kernel/adapter.js';
import type { KnowledgeBase } from './base.js';
import { citationOf } from './base.js';
import { quoted } from './middleware.js';
import { selectPassages } from './selection.js';
import type { KnowledgeSettings } from '../config/knowledge.js';

/**
 * The support-desk checks of `parley eval` (issue 16), for cases that say which page answers
 * them and which fact the answer carries, or that the docs do not answer them (`answerable: false`):
 *
 * - recall: the right page is among the passages the model would be given (after the relevance decision);
 * - citation: the answer's citations name the right page (with a model: the pipeline's answer;
 *   without one: the quote of degraded mode, which cites what it quotes);
 * - quote: without a model, degraded mode quotes a passage containing the fact;
 * - decline: an unanswerable question is declined (with a model: the answer says it does not
 *   know or the pipeline declined; without one: degraded mode quotes nothing).
 */

export interface SupportCase {
  sources?: string[];
  fact?: string;
  answerable: boolean;
  split?: 'tune' | 'heldout';
}

export interface SupportResult {
  split?: 'tune' | 'heldout';
  answerable: boolean;
  /** Pages of the passages sent to the model. */
  sent: string[];
  recall?: boolean;
  /** Without a model: what degraded mode would quote (page), or nothing. */
  quoted?: string;
  quoteOk?: boolean;
  citationOk?: boolean;
  declined?: boolean;
}

/** What an answer that does not know says; the grounded note and the usual model phrasings, in English and Chinese. */
const DECLINE =
  /\b(i don'?t know|i do not know|couldn'?t find|could not find|not (?:in|covered (?:in|by)) the (?:docs|documentation|knowledge base|passages)|no (?:information|passage)s? (?:about|on)|nothing in the (?:docs|knowledge base))\b|不知道|没有找到|无法回答/i;

export function isDecline(text: string, source?: string): boolean {
  return source === 'declined' || DECLINE.test(text);
}

/** Whether `text` states `fact`, case and line wrapping aside (a Markdown paragraph wraps anywhere: "Owners keep a\npassword"). */
export function holdsFact(text: string, fact: string): boolean {
  const flat = (t: string) => t.toLowerCase().replace(/\s+/g, ' ');
  return flat(text).includes(flat(fact));
}

const onPage = (path: string, pages: readonly string[]) => pages.some((s) => path === s || path.endsWith(`/${s}`));
const citesPage = (citations: readonly Citation[], pages: readonly string[]) =>
  citations.some((c) => pages.some((s) => c.location.split('#')[0]!.endsWith(s) || c.id.split('#')[0]!.endsWith(s)));

/** Retrieval and degraded mode for one case, as the knowledge middleware decides them. */
/** Retrieval as the pipeline runs it: the configured `topK` passages, not the eval file's `k` (that is for hit@k). */
export async function supportChecks(
  kb: KnowledgeBase,
  s: KnowledgeSettings,
  c: SupportCase,
  question: string,
  sources: readonly string[] | undefined,
): Promise<SupportResult> {
  const hits = await kb.search(question, { sources, k: s.topK });
  const { relevant, confident } = selectPassages(hits, s);
  const r: SupportResult = { split: c.split, answerable: c.answerable, sent: relevant.map((h) => h.passage.path) };
  // Degraded mode: a close FAQ entry first, then the best passage when retrieval is confident.
  const faq = kb.faqMatch(question, sources);
  let quote: { text: string; citation: Citation } | undefined;
  if (faq && faq.score >= s.faqThreshold) quote = { text: faq.entry.answer, citation: kb.faqCitation(faq.entry) };
  else if (confident && relevant[0]) {
    // Exactly what degraded mode would say (the quoted passages with their neighbours), Markdown quote marks aside.
    const text = quoted(relevant, '', s, kb.pageOf.bind(kb)).text.replace(/^> ?/gm, '');
    quote = { text, citation: citationOf(relevant[0].passage) };
  }
  r.quoted = quote?.citation.location;
  if (c.answerable && c.sources) {
    r.recall = r.sent.some((p) => onPage(p, c.sources!));
    r.citationOk = !!quote && citesPage([quote.citation], c.sources);
    if (c.fact) r.quoteOk = !!quote && holdsFact(quote.text, c.fact);
  }
  if (!c.answerable) r.declined = !quote;
  return r;
}

/** With a model: the pipeline's answer replaces the degraded-mode citation and decline checks. */
export function modelChecks(r: SupportResult, c: SupportCase, turn: { text: string; source: string; citations: Citation[] } | undefined): void {
  const text = turn?.text ?? '';
  if (c.answerable && c.sources) r.citationOk = !!turn && !isDecline(text, turn.source) && citesPage(turn.citations, c.sources);
  if (!c.answerable) r.declined = !turn || isDecline(text, turn.source);
}

export interface Tally {
  passed: number;
  total: number;
}

export interface SupportTotals {
  split: 'tune' | 'heldout' | 'all';
  recall?: Tally;
  citation?: Tally;
  quote?: Tally;
  decline?: Tally;
}

export function supportTotals(results: readonly SupportResult[]): SupportTotals[] {
  const tally = (rs: readonly SupportResult[], pick: (r: SupportResult) => boolean | undefined): Tally | undefined => {
    const ran = rs.map(pick).filter((v): v is boolean => v !== undefined);
    return ran.length ? { passed: ran.filter(Boolean).length, total: ran.length } : undefined;
  };
  const splits = (['tune', 'heldout'] as const).filter((sp) => results.some((r) => r.split === sp));
  const groups: [SupportTotals['split'], readonly SupportResult[]][] = [
    ...splits.map((sp) => [sp, results.filter((r) => r.split === sp)] as [SupportTotals['split'], SupportResult[]]),
    ['all', results],
  ];
  return groups.map(([split, rs]) => ({
    split,
    recall: tally(rs, (r) => r.recall),
    citation: tally(rs, (r) => r.citationOk),
    quote: tally(rs, (r) => r.quoteOk),
    decline: tally(rs, (r) => r.declined),
  }));
}

/** Lines for the text report: one per split, each metric as passed/total and percent. */
export function formatSupport(totals: readonly SupportTotals[], k: number, withModel: boolean): string[] {
  const pct = (t?: Tally) => (t ? `${t.passed}/${t.total} (${((100 * t.passed) / t.total).toFixed(1)}%)` : '–');
  return totals.map(
    (t) =>
      `${t.split.padEnd(8)} right page sent (recall@topK) ${pct(t.recall)} · citation ${pct(t.citation)}${withModel ? ' (model answers)' : ' (degraded quotes)'} · degraded quote has the fact ${pct(t.quote)} · unanswerable declined ${pct(t.decline)}${withModel ? ' (model answers)' : ' (no quote)'}`,
  );
}
