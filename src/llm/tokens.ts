import { countTokens as count } from 'gpt-tokenizer';

/**
 * Token counts with the o200k encoding. Exact for current OpenAI models and a close estimate
 * for others (Llama, Qwen, DeepSeek tokenizers count within ~10–20% on English text), which is
 * why the prompt budget keeps a margin.
 */
export function countTokens(text: string): number {
  // User text may contain strings like "<|endoftext|>"; count them as plain text.
  return count(text, { disallowedSpecial: new Set() });
}

/** Per-message overhead of the chat format (role and separators), as OpenAI documents it. */
export const TOKENS_PER_MESSAGE = 4;
/** Tokens that prime the assistant's reply. */
export const TOKENS_PER_REPLY = 3;
