import { knowledgeSchema } from './file.js';

/** How retrieval decides, per profile or for the whole config (`knowledge:` in the config file). */
export interface KnowledgeSettings {
  /** Passages put in the prompt. */
  topK: number;
  /** Least IDF-weighted share of the question the best passage must match for any passage to be sent (0–1): "plausibly related". */
  threshold: number;
  /** Passages scoring under this fraction of the best one's BM25 score are not sent (the score margin). */
  scoreRatio: number;
  /** Degraded mode quotes the best passage only when it matches at least this IDF-weighted share of the question… */
  quoteThreshold: number;
  /** …and leads the next passage of another page by this score ratio (a clear winner)… */
  quoteMargin: number;
  /** …and scores at least this (BM25): one word of the question met in passing scores low. */
  quoteMinScore: number;
  /** With embeddings: least cosine similarity that also counts as relevant. */
  embeddingThreshold: number;
  /** Least FAQ similarity (0–1) to answer from the FAQ without a model; high on purpose. */
  faqThreshold: number;
  /** Earlier user turns of the thread added to the search. */
  contextTurns: number;
  /** Lifetime of cached answers; 0 turns the cache off. */
  cacheTtlSeconds: number;
  /** Query rewriting by the model (src/knowledge/rewrite.ts): off without a model. */
  rewrite: RewriteSettings;
}

export interface RewriteSettings {
  /** `auto`: follow-ups and questions retrieval is not confident about; `true`: every question; `false`: never. */
  enabled: 'auto' | boolean;
  /** The model that rewrites; the profile's model (and its fallbacks) when absent. */
  model?: string;
  /** After this the question's own passages are used alone. */
  timeoutMs: number;
}

/** The config file's defaults (knowledgeSchema), the one place they are declared; sources and embeddings are not retrieval settings. */
export const DEFAULT_KNOWLEDGE_SETTINGS: KnowledgeSettings = (({ sources: _sources, embeddings: _embeddings, ...settings }) => settings)(
  knowledgeSchema.parse({}),
);
