import type { Config } from '../config/env.js';
import type { GuardrailSettings } from './guardrails.js';

/** Everything that decides how one answer is produced: prompt, model and its limits. */
export interface Profile {
  name: string;
  systemPrompt: string;
  /** Unset when no model is configured at all. */
  model?: string;
  fallbackModels: string[];
  /** The model's context window, in tokens. */
  contextWindow: number;
  /** Tokens reserved for the answer. */
  maxOutputTokens: number;
  /** How the model's tokenizer compares with o200k; absent = counted conservatively (not OpenAI's). */
  tokenizer?: TokenizerHint;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** This profile's guardrails; absent = the top-level ones (or the defaults). */
  guardrails?: GuardrailSettings;
  /** Knowledge source names this profile answers from; absent = every source, `[]` = none. */
  knowledge?: string[];
  /**
   * `grounded`: answer only from the knowledge base and say so when it has nothing relevant;
   * `general` (default): use the knowledge base when relevant, the model's own knowledge otherwise.
   */
  answerMode?: 'grounded' | 'general';
  /** Prices in USD per million tokens, from the model's entry in the config file. */
  pricing?: { inputPerMillion: number; outputPerMillion: number };
  /** Human handoff for this profile (issue 6); absent = the environment's HANDOFF_* defaults. */
  handoff?: import('./handoff.js').HandoffSettings;
}

/** The profile built from the environment alone (no config file). */
export function defaultProfile(config: Config): Profile {
  return {
    name: 'default',
    systemPrompt: config.assistant.systemPrompt,
    model: config.llm.model,
    fallbackModels: config.llm.fallbackModels,
    contextWindow: config.llm.contextWindow,
    maxOutputTokens: config.llm.maxOutputTokens,
    tokenizer: { kind: /^https:\/\/api\.openai\.com\//.test(config.llm.baseURL) ? 'o200k' : 'other' },
    temperature: config.llm.temperature,
  };
}

/** How a model's tokenizer relates to o200k, from the config file (`models.<m>.tokenizer` / `charsPerToken`). */
export interface TokenizerHint {
  /** `o200k`: OpenAI's own models, counted exactly; `other` (default off api.openai.com): counted conservatively. */
  kind: 'o200k' | 'other';
  /** Characters per token the model's tokenizer averages, when known; a lower bound on its count. */
  charsPerToken?: number;
}
