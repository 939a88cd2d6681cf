import type { ProgressiveRenderer } from './renderer.js';
import type { ChatModelClient } from '../llm/client.js';
import { calibrate, countMessages, estimateUsage, promptCounter } from '../llm/tokens.js';
import { LlmError, describe } from '../kernel/errors.js';
import type { TurnContext, TurnResult } from './pipeline.js';
import { buildPrompt, QuestionTooLongError, type Prompt } from './prompt.js';
import type { Usage } from '../kernel/types.js';

/** Notes that end a reply when the model fails or stops early; they say what happened and what to do. */
export const NOTES = {
  cutOff: (reason: string) => `\n\n_⚠️ The answer was cut off (${reason}). Ask again to get the rest._`,
  /** `finish_reason: "length"`: the model reached its output limit (max_tokens). */
  truncated: '\n\n_⚠️ The answer was cut at the length limit. Ask me to continue to get the rest._',
  failed: (reason: string) => `⚠️ I could not get an answer from the model (${reason}). Please try again in a moment.`,
  /** A refusal that a retry cannot fix (a 4xx other than 429): no "try again". */
  refused: (reason: string) => `⚠️ I could not get an answer from the model (${reason}). An administrator needs to check the model settings.`,
  internal: '⚠️ Something went wrong while answering. Please try again; if it keeps happening, tell an administrator.',
  interrupted: '\n\n_⚠️ Interrupted: Parley is restarting. Please ask again in a moment._',
  noModel: 'No model is configured, so I cannot answer yet. An administrator needs to set OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL.',
  tooLong: (e: { questionTokens: number; budgetTokens: number }) =>
    `Your question is too long for the model (about ${e.questionTokens} tokens; it accepts about ${e.budgetTokens}). Please shorten it or split it into parts.`,
};

/** Per-turn machinery handed to the terminal step (kept off the public context). */
export interface TurnRun {
  renderer: ProgressiveRenderer;
  outcome: Partial<TurnResult>;
  signal: AbortSignal;
}

/**
 * The terminal step: the model streams into the renderer; sets `ctx.answer`. A prompt the server
 * finds too long (its tokenizer counts more than ours) is rebuilt once with only the question, at
 * the server's own ratio; when even that cannot fit, the asker is told, with the numbers: such an
 * error never goes away by trying again.
 */
export async function answerWithModel(ctx: TurnContext, llm: ChatModelClient | undefined, { renderer, outcome, signal }: TurnRun): Promise<void> {
  if (ctx.answer) return;
  const { profile } = ctx;
  if (!llm || !profile.model) {
    ctx.answer = { text: NOTES.noModel, source: 'declined' };
    ctx.remember = false;
    outcome.error = 'llm_not_configured';
    return;
  }
  const model = profile.model;
  const build = (questionOnly: boolean, contextWindow = profile.contextWindow): Prompt =>
    buildPrompt({
      systemPrompt: profile.systemPrompt,
      context: ctx.context,
      history: ctx.history,
      question: ctx.question,
      images: ctx.images,
      contextWindow,
      maxOutputTokens: profile.maxOutputTokens,
      count: promptCounter(model, profile.tokenizer),
      questionOnly,
    });
  const tooLong = (e: { questionTokens: number; budgetTokens: number }) => {
    ctx.answer = { text: NOTES.tooLong(e), source: 'declined', citations: [] };
    ctx.remember = false;
    outcome.error = 'question_too_long';
  };
  let prompt: Prompt;
  try {
    prompt = build(false);
  } catch (err) {
    if (!(err instanceof QuestionTooLongError)) throw err;
    return tooLong(err);
  }
  if (prompt.droppedTurns) ctx.log.debug({ dropped: prompt.droppedTurns }, 'older turns left out of the prompt');

  let text = '';
  let usage: Usage | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const ev of llm.stream({
        messages: prompt.messages,
        model,
        fallbackModels: profile.fallbackModels,
        maxTokens: profile.maxOutputTokens,
        temperature: profile.temperature,
        topP: profile.topP,
        seed: profile.seed,
        signal,
      })) {
        if (ev.type === 'delta') {
          outcome.firstTokenAt ??= Date.now();
          // Tokenizers often put a word's space in front of it: the answer starts at its first visible character.
          text += text ? ev.text : ev.text.trimStart();
          if (text) renderer.update(text);
        } else {
          outcome.model = ev.model;
          outcome.modelFirstTokenMs = ev.timeToFirstTokenMs;
          outcome.finishReason = ev.finishReason;
          usage = ev.usage;
        }
      }
      outcome.usage = usage ?? estimateUsage(prompt.tokens, text);
      if (outcome.finishReason === 'length') {
        // Cut by max_tokens: shown as cut, never cached (incomplete), flagged in analytics.
        ctx.answer = { text: text + NOTES.truncated, source: 'model', citations: ctx.citations, incomplete: true, answerLength: text.length };
        outcome.incomplete = true;
        ctx.log.info({ maxTokens: profile.maxOutputTokens }, 'the answer reached the output limit');
      } else {
        ctx.answer = { text: text || '…', source: 'model', citations: ctx.citations };
      }
      return;
    } catch (err) {
      if (err instanceof LlmError && err.code === 'llm_context_overflow' && !text) {
        const server = err.context ?? {};
        ctx.log.warn(
          { promptTokens: prompt.tokens, serverPromptTokens: server.promptTokens, serverContext: server.contextWindow, attempt },
          'the server found the prompt too long',
        );
        if (server.promptTokens) calibrate(model, countMessages(prompt.messages), server.promptTokens);
        const window = Math.min(profile.contextWindow, server.contextWindow ?? Infinity);
        if (attempt === 0) {
          try {
            prompt = build(true, window);
            continue;
          } catch (e) {
            if (!(e instanceof QuestionTooLongError)) throw e;
            return tooLong(e);
          }
        }
        return tooLong({ questionTokens: server.promptTokens ?? prompt.tokens, budgetTokens: Math.max(0, window - profile.maxOutputTokens) });
      }
      failed(ctx, err, text, signal, outcome, usage ?? (text ? estimateUsage(prompt.tokens, text) : undefined), model);
      return;
    }
  }
}

function failed(
  ctx: TurnContext,
  err: unknown,
  text: string,
  signal: AbortSignal,
  outcome: Partial<TurnResult>,
  usage: Usage | undefined,
  model: string,
): void {
  const reason = err instanceof LlmError ? reasonFor(err) : describe(err);
  outcome.error = err instanceof LlmError ? err.code : 'internal';
  ctx.log.warn({ err: describe(err), code: outcome.error, partial: text.length > 0 }, 'model call failed');
  // Tokens of a cut answer were generated and billed: book them (estimated when the server never said).
  if (usage) {
    outcome.usage = usage;
    outcome.model ??= model;
  }
  outcome.incomplete = true;
  // Both notes mark the reply incomplete, with where the answer ends: the knowledge middleware neither caches it nor scores the note.
  if (signal.aborted) {
    ctx.answer = {
      text: (text + NOTES.interrupted).trim(),
      source: text ? 'model' : 'error',
      citations: ctx.citations,
      incomplete: true,
      answerLength: text.length,
    };
  } else if (text) {
    ctx.answer = { text: text + NOTES.cutOff(reason), source: 'model', citations: ctx.citations, incomplete: true, answerLength: text.length };
  } else {
    const permanent = err instanceof LlmError && !err.retryable;
    ctx.answer = { text: permanent ? NOTES.refused(reason) : NOTES.failed(reason), source: 'error' };
  }
}

function reasonFor(e: LlmError): string {
  switch (e.code) {
    case 'llm_timeout':
      return 'the model stopped responding';
    case 'llm_connect_timeout':
      return 'the model did not respond in time';
    case 'llm_rate_limited':
      return 'the model is busy';
    case 'llm_server_error':
      return 'the model service had an error';
    case 'llm_network':
      return 'the connection to the model failed';
    default:
      return 'the model refused the request';
  }
}
