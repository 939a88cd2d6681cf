import type { TokenizerHint } from '../config/profile.js';
import { createRequire } from 'node:module';
import type { Usage } from '../kernel/types.js';

/**
 * Token counts for prompt budgets and for usage the server never reported.
 *
 * o200k is exact for current OpenAI models; other servers tokenize differently (llama.cpp with a
 * GPT-2 vocabulary counted 9,396 tokens for a Chinese question o200k counts as 3,922), so for
 * them the count is raised to a conservative bound and, once the server has reported its own
 * `prompt_tokens`, to the ratio it showed. The o200k tables cost ~70 MB of heap: they are loaded
 * on the first exact count, never at import (a process that only quotes the knowledge base, or
 * runs `parley doctor`, never pays for them).
 */
type CountFn = (text: string, o: { disallowedSpecial: Set<string> }) => number;
let o200k: CountFn | undefined;
function exact(): CountFn {
  // gpt-tokenizer ships a CommonJS build; require() keeps counting synchronous while loading late.
  o200k ??= (createRequire(import.meta.url)('gpt-tokenizer') as { countTokens: CountFn }).countTokens;
  return o200k;
}

/** o200k tokens of `text` (user text may contain strings like "<|endoftext|>": counted as plain text). */
export function countTokens(text: string): number {
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

export type { TokenizerHint } from '../config/profile.js';

/**
 * Byte-level BPE vocabularies without merges for a script fall back to about one token per UTF-8
 * byte; measured on llama.cpp's GPT-2 vocabulary: 9,396 tokens for 3,984 Chinese characters
 * (11,952 bytes), 0.79 per byte. Non-ASCII text is counted at this rate for non-OpenAI models.
 */
const TOKENS_PER_NON_ASCII_BYTE = 0.8;
/** Llama, Qwen and Mistral tokenizers count English within ~20% of o200k; the budget keeps that margin. */
const OTHER_TOKENIZER_MARGIN = 1.2;
/** Calibrations never lower a count below o200k's own, and keep a margin above what the server showed. */
const CALIBRATION_MARGIN = 1.05;

/** Per model: the largest ratio of the server's prompt_tokens to our count seen in this process. */
const calibration = new Map<string, number>();

/** Records the server's own count of a prompt we counted as `ours` (from `usage` or a context error). */
export function calibrate(model: string, ours: number, server: number): void {
  if (ours < 50 || server <= 0) return; // tiny prompts are mostly fixed overhead: their ratio says little
  const ratio = server / ours;
  if (ratio > (calibration.get(model) ?? 0)) calibration.set(model, ratio);
}

/** Forgets calibrations (tests). */
export function resetCalibration(): void {
  calibration.clear();
}

/** A counter for one model's prompts: o200k raised by the tokenizer hint and the calibration. */
export function promptCounter(model: string | undefined, hint: TokenizerHint = { kind: 'other' }): (text: string) => number {
  const learned = model ? calibration.get(model) : undefined;
  const factor = Math.max(hint.kind === 'o200k' ? 1 : OTHER_TOKENIZER_MARGIN, learned ? learned * CALIBRATION_MARGIN : 0);
  return (text) => {
    const base = Math.ceil(countTokens(text) * factor);
    if (hint.kind === 'o200k') return base;
    const byChars = hint.charsPerToken ? Math.ceil(text.length / hint.charsPerToken) : 0;
    return Math.max(base, byChars, Math.ceil(nonAsciiBytes(text) * TOKENS_PER_NON_ASCII_BYTE));
  };
}

function nonAsciiBytes(text: string): number {
  let n = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80) n += c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * Usage counted locally when the server sent none (a stream cut mid-way, a server that ignores
 * `stream_options.include_usage`): the prompt as budgeted and the o200k count of what arrived.
 */
export function estimateUsage(promptTokens: number, completion: string): Usage {
  return { promptTokens, completionTokens: completion ? countTokens(completion) : 0, estimated: true };
}

/** o200k tokens of a chat prompt, with the chat format's overhead (images left out: calibration only looks at text). */
export function countMessages(messages: { content: string | { type: string; text?: string }[] }[]): number {
  let n = TOKENS_PER_REPLY;
  for (const m of messages) {
    const text = typeof m.content === 'string' ? m.content : m.content.map((p) => p.text ?? '').join('\n');
    n += countTokens(text) + TOKENS_PER_MESSAGE;
  }
  return n;
}
