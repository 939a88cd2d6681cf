import { stripCitations } from './citations.js';
import { metricTokens as tokenize, term } from './analyzer.js';

/**
 * A live groundedness score: how much of a model answer is backed by the passages it was
 * given. Cheap enough for every turn (token sets, no model call). A sentence is supported when
 * enough of its content words occur in the passages; a number that occurs in no passage
 * (a price, a limit, a day count the model made up) makes its sentence unsupported whatever
 * the word overlap, because that is the error support teams fear most.
 */

export interface GroundednessOptions {
  /** Least share of a sentence's content words found in the passages for it to count as supported (0–1). */
  threshold: number;
  /** Sentences with fewer content words and no number ("Sure!", "Hope this helps.") are not judged. */
  minTerms: number;
}

export const DEFAULT_GROUNDEDNESS_OPTIONS: GroundednessOptions = { threshold: 0.5, minTerms: 3 };

export interface UnsupportedSentence {
  text: string;
  /** Share of its content words found in the passages (0–1). */
  support: number;
  /** Numbers in it that occur in no passage. */
  inventedNumbers: string[];
}

export interface Groundedness {
  /** Supported sentences / judged sentences (0–1); 1 when no sentence could be judged. */
  groundedness: number;
  judged: number;
  unsupported: UnsupportedSentence[];
}

/** 1,200 · 12.50 · 30 — separators inside a number kept, then normalised away for comparison. */
const NUMBER = /\d+(?:[.,]\d+)*/g;

let sentenceSegmenter: Intl.Segmenter | undefined;

export function groundedness(answer: string, passages: readonly string[], options: Partial<GroundednessOptions> = {}): Groundedness {
  const o = { ...DEFAULT_GROUNDEDNESS_OPTIONS, ...options };
  const passageText = passages.join('\n');
  const known = new Set(contentTerms(passageText));
  const knownNumbers = new Set(numbersIn(passageText));
  let judged = 0;
  const unsupported: UnsupportedSentence[] = [];
  for (const sentence of sentences(answer)) {
    const words = contentTerms(sentence);
    const numbers = numbersIn(sentence);
    if (words.length < o.minTerms && !numbers.length) continue;
    judged++;
    const support = words.length ? words.filter((w) => known.has(w)).length / words.length : 1;
    const inventedNumbers = [...new Set(numbers.filter((n) => !knownNumbers.has(n)))];
    if (support < o.threshold || inventedNumbers.length) unsupported.push({ text: sentence, support, inventedNumbers });
  }
  return { groundedness: judged ? (judged - unsupported.length) / judged : 1, judged, unsupported };
}

/** Sentences of `text`, without citation markers or Markdown emphasis; list items and lines count as sentences too. */
export function sentences(text: string): string[] {
  sentenceSegmenter ??= new Intl.Segmenter(undefined, { granularity: 'sentence' });
  const out: string[] = [];
  for (const line of stripCitations(text).split(/\n+/)) {
    for (const s of sentenceSegmenter.segment(line.replace(/^\s*(?:[-*+>]|\d+[.)])\s+/, '').replace(/[*_`]+/g, ''))) {
      const t = s.segment.trim();
      if (t) out.push(t);
    }
  }
  return out;
}

/** Stemmed words without stopwords (the knowledge index's terms); Chinese and Japanese per character. */
function contentTerms(text: string): string[] {
  const out: string[] = [];
  // Citation markers like [1] or [1, 2]: not words or numbers of the answer.
  for (const token of tokenize(stripCitations(text))) {
    if (/^\d+$/.test(token)) continue; // numbers are checked on their own, exactly
    const t = term(token);
    if (t) out.push(t);
  }
  return out;
}

function numbersIn(text: string): string[] {
  return [...stripCitations(text).matchAll(NUMBER)].map(([n]) => n.replace(/,(?=\d{3}\b)/g, ''));
}
