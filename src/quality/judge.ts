import { z } from 'zod';
import { describe } from '../kernel/errors.js';
import type { ChatModelClient } from '../llm/client.js';

/**
 * An optional judge model for `parley eval`: rates an answer's faithfulness to the passages it
 * cites and its helpfulness on a fixed 1–5 rubric, with a one-line reason. Temperature 0 and a
 * fixed seed so two runs of the same cases compare. A reply that does not parse is reported as
 * such and never counted as a score: a guessed 3 would hide a broken judge.
 */

export const JUDGE_SEED = 7;
const MAX_REASON_CHARS = 200;

export const JUDGE_RUBRIC = `You grade answers of a customer-support assistant. Score two things from 1 to 5.

faithfulness: is every claim of the answer supported by the passages?
  5 = every claim is stated in the passages; 4 = minor harmless additions; 3 = some claims are not in the passages;
  2 = important claims are not in the passages or contradict them; 1 = mostly invented or contradicts the passages.
  When no passages are given, rate whether the answer avoids specific claims it cannot back (5 = it makes none).
helpfulness: does the answer resolve the question?
  5 = fully answers it, clear and direct; 4 = answers it with small gaps; 3 = partly answers it;
  2 = barely addresses it; 1 = does not address it.

Reply with exactly one line of JSON and nothing else:
{"faithfulness": <1-5>, "helpfulness": <1-5>, "reason": "<one short sentence>"}`;

const verdictSchema = z.object({
  faithfulness: z.number().int().min(1).max(5),
  helpfulness: z.number().int().min(1).max(5),
  reason: z.string().trim().min(1),
});

export type JudgeVerdict =
  | { ok: true; faithfulness: number; helpfulness: number; reason: string }
  /** `error` says why there is no score: an unparseable reply or a failed call. */
  | { ok: false; error: string };

export interface JudgeInput {
  question: string;
  answer: string;
  /** The passages the answer cites (title and text). */
  passages: { title: string; text: string }[];
}

export async function judgeAnswer(client: ChatModelClient, model: string, input: JudgeInput, signal?: AbortSignal): Promise<JudgeVerdict> {
  const passages = input.passages.length ? input.passages.map((p, i) => `[${i + 1}] ${p.title}\n${p.text}`).join('\n\n') : '(no passages were given)';
  let reply = '';
  try {
    for await (const ev of client.stream({
      model,
      messages: [
        { role: 'system', content: JUDGE_RUBRIC },
        { role: 'user', content: `Passages:\n${passages}\n\nQuestion:\n${input.question}\n\nAnswer:\n${input.answer}` },
      ],
      temperature: 0,
      seed: JUDGE_SEED,
      maxTokens: 200,
      signal,
    })) {
      if (ev.type === 'delta') reply += ev.text;
    }
  } catch (err) {
    return { ok: false, error: `judge call failed: ${describe(err)}` };
  }
  return parseVerdict(reply);
}

/** The verdict in a judge's reply: the JSON object in it (models like to wrap it in a code fence or add a word). */
export function parseVerdict(reply: string): JudgeVerdict {
  const start = reply.indexOf('{');
  const end = reply.lastIndexOf('}');
  if (start < 0 || end < start) return { ok: false, error: 'unparseable judge reply (no JSON object)' };
  let value: unknown;
  try {
    value = JSON.parse(reply.slice(start, end + 1));
  } catch {
    return { ok: false, error: 'unparseable judge reply (invalid JSON)' };
  }
  const r = verdictSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, error: `unparseable judge reply (${issue.path.join('.') || 'reply'}: ${issue.message})` };
  }
  const reason = r.data.reason.replace(/\s+/g, ' ');
  return {
    ok: true,
    faithfulness: r.data.faithfulness,
    helpfulness: r.data.helpfulness,
    reason: reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 1)}…` : reason,
  };
}
