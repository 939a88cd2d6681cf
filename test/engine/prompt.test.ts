import { describe, expect, it } from 'vitest';
import { buildPrompt, QuestionTooLongError } from '../../src/engine/prompt.js';
import { countTokens, upperBoundTokens } from '../../src/llm/tokens.js';
import type { Turn } from '../../src/kernel/types.js';

const turn = (role: Turn['role'], content: string): Turn => ({ role, content, at: 0 });
const history = [
  turn('user', 'How do I reset my password?'),
  turn('assistant', 'Open Settings → Security and choose “Reset”.'),
  turn('user', 'And 2FA?'),
  turn('assistant', 'Same page, under “Two-factor”.'),
];
const base = {
  systemPrompt: 'You are a support assistant.',
  context: ['Passage: resets take 5 minutes.'],
  history,
  question: 'Thanks, and my email?',
  maxOutputTokens: 100,
};

describe('buildPrompt', () => {
  it('never counts more o200k tokens than UTF-8 bytes (the bound that skips the tokenizer)', () => {
    for (const s of ['plain English text', 'Ünïcödé – “quotes” → arrows', '中文问题怎么重置密码', '<|endoftext|> 🎉🎉', '']) {
      expect(countTokens(s)).toBeLessThanOrEqual(upperBoundTokens(s));
    }
  });

  it('keeps everything when the prompt fits by its byte length, with the same token count as an exact build', () => {
    const roomy = buildPrompt({ ...base, contextWindow: 100_000 });
    expect(roomy.droppedTurns).toBe(0);
    expect(roomy.messages.map((m) => m.content)).toEqual([`${base.systemPrompt}\n\n${base.context[0]}`, ...history.map((t) => t.content), base.question]);
    // Just enough for the exact count but not for one token per byte: the counted path keeps all too.
    const exactTokens = roomy.tokens;
    const tight = buildPrompt({ ...base, contextWindow: exactTokens + base.maxOutputTokens });
    expect(tight.droppedTurns).toBe(0);
    expect(tight.tokens).toBe(exactTokens);
    expect(tight.messages).toEqual(roomy.messages);
  });

  it('drops the oldest turns when even the exact count does not fit, and refuses a question that never fits', () => {
    const full = buildPrompt({ ...base, contextWindow: 100_000 }).tokens;
    const short = buildPrompt({ ...base, contextWindow: full + base.maxOutputTokens - 12 });
    expect(short.droppedTurns).toBe(2);
    expect(short.messages[1]!.content).toBe('And 2FA?');
    expect(() => buildPrompt({ ...base, contextWindow: base.maxOutputTokens + 10 })).toThrow(QuestionTooLongError);
  });
});
