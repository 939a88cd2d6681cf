/**
 * Reference metrics for `parley eval`: ROUGE-L (F-measure) and sentence BLEU.
 *
 * Implemented here rather than taken from npm: `js-rouge` tokenises with its own English-only
 * splitter (a Chinese answer becomes one token) and has no BLEU; `bleu-score` is little used and
 * unmaintained. Both metrics are a few dozen lines; test/quality/metrics.test.ts checks them
 * against published values (the ROUGE paper's examples, NLTK's `sentence_bleu` doc example).
 */

import { metricTokens } from '../knowledge/analyzer.js';

/** The metrics' tokens: the analyzer's (`metricTokens`), one rule for ROUGE, BLEU and groundedness. */
export { metricTokens as tokenize } from '../knowledge/analyzer.js';

export interface RougeScore {
  precision: number;
  recall: number;
  /** F1 of precision and recall (as Google's `rouge_score` reports it). */
  f: number;
}

/** ROUGE-L of `candidate` against the best of `references` (by F), from the longest common subsequence of tokens. */
export function rougeL(candidate: string, references: string | string[]): RougeScore {
  const c = metricTokens(candidate);
  let best: RougeScore = { precision: 0, recall: 0, f: 0 };
  for (const ref of [references].flat()) {
    const r = metricTokens(ref);
    const lcs = lcsLength(c, r);
    if (!lcs) continue;
    const precision = lcs / c.length;
    const recall = lcs / r.length;
    const f = (2 * precision * recall) / (precision + recall);
    if (f > best.f) best = { precision, recall, f };
  }
  return best;
}

/** Length of the longest common subsequence, in O(|a|·|b|) time and O(|b|) memory. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  let row = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    for (let j = 1; j <= b.length; j++) row[j] = x === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    [prev, row] = [row, prev];
  }
  return prev[b.length]!;
}

export interface BleuScore {
  /** 0–1 (sacrebleu prints this × 100). */
  bleu: number;
  /** Modified n-gram precisions, 1-grams first, after smoothing. */
  precisions: number[];
  brevityPenalty: number;
  candidateLength: number;
  referenceLength: number;
}

/**
 * Sentence BLEU (Papineni et al. 2002): clipped n-gram precisions up to 4-grams (fewer when the
 * candidate is shorter: sacrebleu's "effective order"), geometric mean, brevity penalty against
 * the closest reference length. Short texts often share no 4-gram, which would make BLEU 0:
 * zero counts are smoothed with sacrebleu's default `exp` method (NLTK's method 3), which
 * changes nothing when every order has a match.
 */
export function bleu(candidate: string, references: string | string[], maxOrder = 4): BleuScore {
  const c = metricTokens(candidate);
  const refs = [references].flat().map((r) => metricTokens(r));
  const refLength = closestLength(
    c.length,
    refs.map((r) => r.length),
  );
  if (!c.length || !refs.length) return { bleu: 0, precisions: [], brevityPenalty: 0, candidateLength: c.length, referenceLength: refLength };
  const precisions: number[] = [];
  let smooth = 1;
  let anyMatch = false;
  for (let n = 1; n <= Math.min(maxOrder, c.length); n++) {
    const counts = ngrams(c, n);
    const maxRef = new Map<string, number>();
    for (const r of refs) for (const [g, k] of ngrams(r, n)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, k));
    let matches = 0;
    for (const [g, k] of counts) matches += Math.min(k, maxRef.get(g) ?? 0);
    const total = c.length - n + 1;
    if (matches === 0) {
      smooth *= 2;
      precisions.push(1 / (smooth * total));
    } else {
      anyMatch = true;
      precisions.push(matches / total);
    }
  }
  const brevityPenalty = c.length > refLength ? 1 : Math.exp(1 - refLength / c.length);
  // No word in common: 0, not a smoothed small number (sacrebleu stops early the same way).
  if (!anyMatch) return { bleu: 0, precisions, brevityPenalty, candidateLength: c.length, referenceLength: refLength };
  const logMean = precisions.reduce((s, p) => s + Math.log(p), 0) / precisions.length;
  return { bleu: brevityPenalty * Math.exp(logMean), precisions, brevityPenalty, candidateLength: c.length, referenceLength: refLength };
}

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  // U+0001 cannot occur in a token, so joined n-grams never collide.
  for (let i = 0; i + n <= tokens.length; i++) {
    const g = tokens.slice(i, i + n).join('\u0001');
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

/** The reference length closest to the candidate's; the shorter one on a tie (as NLTK and sacrebleu do). */
function closestLength(c: number, lengths: number[]): number {
  let best = lengths[0] ?? 0;
  for (const l of lengths) if (Math.abs(l - c) < Math.abs(best - c) || (Math.abs(l - c) === Math.abs(best - c) && l < best)) best = l;
  return best;
}
