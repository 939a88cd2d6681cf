import type { ChatMessage } from '../llm/client.js';
import { countTokens, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, upperBoundTokens } from '../llm/tokens.js';
import { ParleyError } from '../kernel/errors.js';
import type { Turn } from '../kernel/types.js';

export interface PromptInput {
  systemPrompt: string;
  /** Extra system sections (retrieved passages, rules); dropped from the end when space runs out. */
  context: string[];
  history: Turn[];
  question: string;
  /** Images attached to the question, sent as data URLs in the user message. */
  images?: { contentType: string; data: Buffer }[];
  contextWindow: number;
  maxOutputTokens: number;
  /** Counts tokens as the model's tokenizer would, conservatively (llm/tokens promptCounter); o200k by default. */
  count?: (text: string) => number;
  /** Leave out history and retrieved passages (the retry after a server's context-length error). */
  questionOnly?: boolean;
}

export interface Prompt {
  messages: ChatMessage[];
  /** Counted prompt tokens (o200k; an estimate for other tokenizers). */
  tokens: number;
  droppedTurns: number;
  /** Retrieved passages (context sections) left out for lack of room. */
  droppedContext: number;
}

/** The question alone does not fit the model's context; never cut silently. */
export class QuestionTooLongError extends ParleyError {
  constructor(
    readonly questionTokens: number,
    readonly budgetTokens: number,
  ) {
    super('question_too_long', `the question is ${questionTokens} tokens; this model accepts about ${budgetTokens}`);
  }
}

/**
 * What one image costs in the prompt: OpenAI bills a 1024×1024 image at high detail as 765
 * tokens; other vision models are in the same range. An estimate, inside the budget's margin.
 */
export const IMAGE_TOKENS_ESTIMATE = 765;

/**
 * System prompt + context + as much recent history as fits + the question, within
 * contextWindow − maxOutputTokens. The oldest turns go first, then trailing context sections.
 */
export function buildPrompt(input: PromptInput): Prompt {
  const count = input.count ?? countTokens;
  const cost = (content: string) => count(content) + TOKENS_PER_MESSAGE;
  const budget = input.contextWindow - input.maxOutputTokens - TOKENS_PER_REPLY;
  return (input.questionOnly ? undefined : fitsByBytes(input, budget, count, cost)) ?? fitByCount(input, budget, count, cost);
}

/**
 * Most prompts are far below the context window: when even one token per UTF-8 byte fits, all
 * of it is kept without tokenizing (issue 19: o200k costs ~70 MB and a share of every reply's
 * CPU). The exact count is only made if someone reads `tokens` (usage the server did not report).
 */
function fitsByBytes(input: PromptInput, budget: number, count: (text: string) => number, cost: (content: string) => number): Prompt | undefined {
  const images = (input.images?.length ?? 0) * IMAGE_TOKENS_ESTIMATE;
  let upper = upperBoundTokens(input.systemPrompt) + TOKENS_PER_MESSAGE + upperBoundTokens(input.question) + TOKENS_PER_MESSAGE + images;
  for (const section of input.context) upper += upperBoundTokens(section) + 2;
  for (const turn of input.history) upper += upperBoundTokens(turn.content) + TOKENS_PER_MESSAGE;
  if (upper > budget) return undefined;
  const kept = [...input.history];
  // As below: a history that starts with an answer reads oddly to the model.
  while (kept[0]?.role === 'assistant') kept.shift();
  let tokens: number | undefined;
  return {
    messages: messagesOf(input, input.context, kept),
    get tokens() {
      tokens ??=
        cost(input.systemPrompt) +
        cost(input.question) +
        images +
        TOKENS_PER_REPLY +
        input.context.reduce((n, s) => n + count(s) + 2, 0) +
        kept.reduce((n, t) => n + cost(t.content), 0);
      return tokens;
    },
    droppedTurns: input.history.length - kept.length,
    droppedContext: 0,
  };
}

function fitByCount(input: PromptInput, budget: number, count: (text: string) => number, cost: (content: string) => number): Prompt {
  const questionTokens = cost(input.question) + (input.images?.length ?? 0) * IMAGE_TOKENS_ESTIMATE;
  const systemBase = cost(input.systemPrompt);
  if (systemBase + questionTokens > budget) throw new QuestionTooLongError(questionTokens, Math.max(0, budget - systemBase));

  let used = systemBase + questionTokens;
  const context: string[] = [];
  for (const section of input.questionOnly ? [] : input.context) {
    const t = count(section) + 2;
    if (used + t > budget) break;
    context.push(section);
    used += t;
  }

  const kept: Turn[] = [];
  for (let i = input.questionOnly ? -1 : input.history.length - 1; i >= 0; i--) {
    const turn = input.history[i]!;
    const t = cost(turn.content);
    if (used + t > budget) break;
    kept.unshift(turn);
    used += t;
  }
  // A history that starts with an answer whose question was dropped reads oddly to the model.
  while (kept[0]?.role === 'assistant') {
    used -= cost(kept.shift()!.content);
  }

  return {
    messages: messagesOf(input, context, kept),
    tokens: used + TOKENS_PER_REPLY,
    droppedTurns: input.history.length - kept.length,
    droppedContext: input.context.length - context.length,
  };
}

function messagesOf(input: PromptInput, context: string[], kept: Turn[]): ChatMessage[] {
  return [
    { role: 'system', content: [input.systemPrompt, ...context].join('\n\n') },
    ...kept.map((t): ChatMessage => ({ role: t.role, content: t.content })),
    { role: 'user', content: userContent(input) },
  ];
}

function userContent(input: PromptInput): ChatMessage['content'] {
  if (!input.images?.length) return input.question;
  return [
    { type: 'text', text: input.question },
    ...input.images.map((img) => ({ type: 'image_url' as const, image_url: { url: `data:${img.contentType};base64,${img.data.toString('base64')}` } })),
  ];
}
