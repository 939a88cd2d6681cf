import { knowledgeSchema } from './file.js';

/** How retrieval decides, per profile or for the whole config (`knowledge:` in the config file). */
export interface KnowledgeSettings {
  /** Passages put in the prompt. */
  topK: number;
  /** Least share of the question's terms a passage must contain to count as relevant (0–1). */
  threshold: number;
  /** With embeddings: least cosine similarity that also counts as relevant. */
  embeddingThreshold: number;
  /** Least FAQ similarity (0–1) to answer from the FAQ without a model; high on purpose. */
  faqThreshold: number;
  /** Earlier user turns of the thread added to the search. */
  contextTurns: number;
  /** Lifetime of cached answers; 0 turns the cache off. */
  cacheTtlSeconds: number;
}

/** The config file's defaults (knowledgeSchema), the one place they are declared. */
export const DEFAULT_KNOWLEDGE_SETTINGS: KnowledgeSettings = (({ topK, threshold, embeddingThreshold, faqThreshold, contextTurns, cacheTtlSeconds }) => ({
  topK,
  threshold,
  embeddingThreshold,
  faqThreshold,
  contextTurns,
  cacheTtlSeconds,
}))(knowledgeSchema.parse({}));
