import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/kernel/logger.js';
import { LlmClient } from '../../src/llm/client.js';
import { JUDGE_SEED, judgeAnswer, parseVerdict } from '../../src/quality/judge.js';
import { FakeOpenAI } from '../fakes/openai-server.js';

let fake: FakeOpenAI;
let client: LlmClient;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
  client = new LlmClient({ baseURL: fake.url, connectTimeoutMs: 2_000, idleTimeoutMs: 2_000, maxRetries: 0, log: silentLogger() });
});
afterAll(() => fake.close());
beforeEach(() => {
  fake.requests.length = 0;
});

const input = {
  question: 'How long is the refund window for annual plans?',
  answer: 'Annual plans can be refunded within 30 days [1].',
  passages: [{ title: 'Refund policy › Annual plans', text: 'Annual plans can be refunded in full within **30 days** of purchase.' }],
};

describe('judge scoring through a real (fake) OpenAI-compatible server', () => {
  it('asks at temperature 0 with a fixed seed, with the rubric, passages, question and answer, and parses the verdict', async () => {
    fake.script('{"faithfulness": 5, "helpfulness": 4, "reason": "Matches passage [1]; does not say how to ask."}');
    const v = await judgeAnswer(client, 'judge-model', input);
    expect(v).toEqual({ ok: true, faithfulness: 5, helpfulness: 4, reason: 'Matches passage [1]; does not say how to ask.' });
    const body = fake.chatRequests[0]!.body;
    expect(body).toMatchObject({ model: 'judge-model', temperature: 0, seed: JUDGE_SEED });
    expect(body.messages[0].content).toContain('faithfulness: is every claim of the answer supported by the passages?');
    expect(body.messages[1].content).toContain('[1] Refund policy › Annual plans\nAnnual plans can be refunded in full');
    expect(body.messages[1].content).toContain('Answer:\nAnnual plans can be refunded within 30 days [1].');
  });

  it('accepts a verdict wrapped in a code fence and keeps the reason to one line', async () => {
    fake.script('```json\n{"faithfulness": 2, "helpfulness": 3,\n "reason": "Claims 90 days;\\nthe passage says 30."}\n```');
    expect(await judgeAnswer(client, 'judge-model', input)).toEqual({
      ok: true,
      faithfulness: 2,
      helpfulness: 3,
      reason: 'Claims 90 days; the passage says 30.',
    });
  });

  it('reports an unparseable reply as such, with no score', async () => {
    fake.script('I would give this answer a solid four out of five.');
    const v = await judgeAnswer(client, 'judge-model', input);
    expect(v).toEqual({ ok: false, error: 'unparseable judge reply (no JSON object)' });
    expect(v).not.toHaveProperty('faithfulness');
  });

  it('reports a failed judge call with no score', async () => {
    fake.script({ status: 400 });
    const v = await judgeAnswer(client, 'judge-model', input);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.error).toMatch(/^judge call failed: .*400/);
  });
});

describe('parseVerdict', () => {
  it('rejects scores off the 1–5 rubric, non-integers, missing reasons and broken JSON', () => {
    expect(parseVerdict('{"faithfulness": 6, "helpfulness": 4, "reason": "x"}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^unparseable judge reply \(faithfulness: /),
    });
    expect(parseVerdict('{"faithfulness": 4.5, "helpfulness": 4, "reason": "x"}')).toMatchObject({ ok: false });
    expect(parseVerdict('{"faithfulness": 4, "helpfulness": 4}')).toMatchObject({ ok: false, error: expect.stringMatching(/reason/) });
    expect(parseVerdict('{"faithfulness": 4, "helpfulness": 4, "reason": " "}')).toMatchObject({ ok: false });
    expect(parseVerdict('{faithfulness: 4}')).toEqual({ ok: false, error: 'unparseable judge reply (invalid JSON)' });
    expect(parseVerdict('')).toEqual({ ok: false, error: 'unparseable judge reply (no JSON object)' });
  });

  it('reads scores given as numbers with a reason containing braces', () => {
    expect(parseVerdict('{"faithfulness": 3, "helpfulness": 5, "reason": "Adds the {plan} placeholder."}')).toEqual({
      ok: true,
      faithfulness: 3,
      helpfulness: 5,
      reason: 'Adds the {plan} placeholder.',
    });
  });
});
