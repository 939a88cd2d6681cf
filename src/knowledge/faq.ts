import { z } from 'zod';
import { issueToConfigError, parseYaml } from '../config/yaml.js';
import { terms } from './analyzer.js';

/** FAQ file format: a list of entries, each with question variants and one answer. */
export const faqFileSchema = z.array(
  z
    .object({
      id: z.string().min(1).optional(),
      questions: z.array(z.string().min(3)).min(1),
      answer: z.string().min(1),
      /** Page the answer comes from (path inside the source, or a URL), cited under the answer. */
      source: z.string().min(1).optional(),
    })
    .strict(),
);

export interface FaqEntry {
  id: string;
  questions: string[];
  answer: string;
  /** The FAQ file (path inside its source). */
  file: string;
  /** The knowledge source holding the file (set by the knowledge base). */
  sourceName?: string;
  source?: string;
  /** The variants' term sets, precomputed. */
  variants: Set<string>[];
}

export interface FaqMatch {
  entry: FaqEntry;
  /** 0–1: Jaccard similarity of the question's terms with the closest variant's. */
  score: number;
  variant: string;
}

export function parseFaqFile(path: string, text: string): FaqEntry[] {
  const located = parseYaml(text, path);
  const r = faqFileSchema.safeParse(located.value);
  if (!r.success) throw issueToConfigError(r.error, located, path);
  return r.data.map((e, i) => ({
    id: e.id ?? `${path}#${i + 1}`,
    questions: e.questions,
    answer: e.answer.trim(),
    file: path,
    source: e.source,
    variants: e.questions.map((q) => new Set(terms(q))),
  }));
}

/**
 * The FAQ entry closest to `question`. Similarity is Jaccard over meaningful terms, so extra
 * words on either side lower it: "reset my API token" does not match "reset my password", and
 * "turn off 2FA" does not match "turn on 2FA" (negations and on/off are kept as terms).
 */
export function bestFaqMatch(entries: readonly FaqEntry[], question: string): FaqMatch | undefined {
  const q = new Set(terms(question));
  if (q.size === 0) return undefined;
  let best: FaqMatch | undefined;
  for (const entry of entries) {
    entry.variants.forEach((v, i) => {
      if (v.size === 0) return;
      let shared = 0;
      for (const t of q) if (v.has(t)) shared++;
      const score = shared / (q.size + v.size - shared);
      if (!best || score > best.score) best = { entry, score, variant: entry.questions[i]! };
    });
  }
  return best;
}
