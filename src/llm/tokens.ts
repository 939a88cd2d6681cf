import { createRequire } from 'node:module';

type CountFn = (text: string, o: { disallowedSpecial: Set<string> }) => number;
let o200k: CountFn | undefined;
/**
 * The o200k tables cost ~70 MB of RSS: loaded on the first exact count, never at import (a
 * prompt that fits by its byte length never needs one, see `upperBoundTokens`).
 */
function exact(): CountFn {
  // gpt-tokenizer ships a CommonJS build; require() keeps counting synchronous while loading late.
  o200k ??= (createRequire(import.meta.url)('gpt-tokenizer') as { countTokens: CountFn }).countTokens;
  return o200k;
}

/**
 * Token counts with the o200k encoding. Exact for current OpenAI models and a close estimate
 * for others (Llama, Qwen, DeepSeek tokenizers count within ~10–20% on English text), which is
 * why the prompt budget keeps a margin.
 */
export function countTokens(text: string): number {
  // User text may contain strings like "<|endoftext|>"; count them as plain text.
  return exact()(text, { disallowedSpecial: new Set() });
}

/**
 * A bound o200k never exceeds: a byte-level BPE token covers at least one UTF-8 byte. Cheap
 * (no tokenizer), and enough to know a prompt fits when it is far below the context window.
 */
export function upperBoundTokens(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Per-message overhead of the chat format (role and separators), as OpenAI documents it. */
export const TOKENS_PER_MESSAGE = 4;
/** Tokens that prime the assistant's reply. */
export const TOKENS_PER_REPLY = 3;
