import { bleu, rougeL } from './metrics.js';

/** Citation markers like [1] or [1, 2]: the reference has none, so they would only cost precision. */
const CITATION = /\[\d+(?:\s*,\s*\d+)*\]/g;

/** ROUGE-L F and BLEU (both 0–1) of an answer against a reference answer, for `parley eval`. */
export function scoreAgainstReference(answer: string, reference: string): { rouge: number; bleu: number } {
  const text = answer.replace(CITATION, '');
  return { rouge: rougeL(text, reference).f, bleu: bleu(text, reference).bleu };
}
