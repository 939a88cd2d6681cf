import { stripCitations } from '../knowledge/citations.js';
import { bleu, rougeL } from './metrics.js';

/** ROUGE-L F and BLEU (both 0–1) of an answer against a reference answer, for `parley eval`. */
export function scoreAgainstReference(answer: string, reference: string): { rouge: number; bleu: number } {
  // Citation markers like [1] or [1, 2]: the reference has none, so they would only cost precision.
  const text = stripCitations(answer);
  return { rouge: rougeL(text, reference).f, bleu: bleu(text, reference).bleu };
}
