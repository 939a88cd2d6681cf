import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_TEXT_CHARS } from '../../fakes/slack/model.js';
import { answersIn, eventually, startSlackWorld, type SlackWorld } from './harness.js';

const ADA = 'U0ADA00001';
const GENERAL = 'C0GENERAL1';

/** Plain words (no Markdown, no `&<>`), so mrkdwn and Markdown read the same and texts compare exactly. */
function words(n: number, seed = 'word'): string {
  return Array.from({ length: n }, (_, i) => `${seed}${i}`).join(' ');
}

describe('Slack streaming and its fallbacks', () => {
  let w: SlackWorld;
  beforeEach(async () => {
    w = await startSlackWorld();
  });
  afterEach(async () => {
    await w.stop();
  });

  async function ask(question: string) {
    const m = w.slack.userSays(GENERAL, ADA, `<@${w.slack.botUserId}> ${question}`);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')));
    return m;
  }

  for (const refusal of ['refuse', 'unknown_method'] as const) {
    it(`falls back to postMessage + update when chat.startStream is refused (${refusal}) and completes the exact text`, async () => {
      w.slack.stream.mode = refusal;
      const answer = words(60);
      w.openai.script({ text: answer, chunkDelayMs: 5 });
      const m = await ask('stream refused');
      const replies = await answersIn(w, GENERAL, m.ts, answer);
      expect(replies).toHaveLength(1);
      expect(replies[0]!.format).toBe('mrkdwn');
      // Every version shown was a prefix of the answer: nothing repeated, nothing out of order.
      for (const v of replies[0]!.history) expect(answer.startsWith(v)).toBe(true);
      expect(w.slack.callsTo('chat.startStream').every((c) => !c.ok)).toBe(true);
    });
  }

  it('continues on the same message with chat.update when the stream expires mid-answer', async () => {
    w.slack.stream.expireAfterAppends = 1;
    const answer = words(120);
    w.openai.script({ text: answer, chunkDelayMs: 10 });
    const m = await ask('stream expires');
    const replies = await answersIn(w, GENERAL, m.ts, answer);
    expect(replies).toHaveLength(1); // the streamed message itself was finished, not a second copy
    const reply = replies[0]!;
    expect(w.slack.callsTo('chat.appendStream').some((c) => c.error === 'message_not_in_streaming_state')).toBe(true);
    expect(
      w.slack
        .callsTo('chat.update')
        .filter((c) => c.ok)
        .at(-1)!.params.ts,
    ).toBe(reply.ts);
    for (const v of reply.history) expect(answer.startsWith(v)).toBe(true);
  });

  it('delivers the exact final text when a lost stream could not be stopped (chat.update conflicts until it is stopped by ts)', async () => {
    // The first append fails, and so does the stream's own chat.stopStream: the message stays streaming.
    w.slack.failNext('chat.appendStream', 1, { error: 'internal_error' });
    w.slack.failNext('chat.stopStream', 1, { error: 'internal_error' });
    const answer = words(120, 'stuck');
    w.openai.script({ text: answer, chunkDelayMs: 10 });
    const m = await ask('stream lost, stop fails');
    const replies = await answersIn(w, GENERAL, m.ts, answer);
    expect(replies).toHaveLength(1); // the streamed message itself was finished
    const reply = replies[0]!;
    expect(reply.text).toBe(answer);
    expect(w.slack.callsTo('chat.stopStream').some((c) => c.error === 'internal_error')).toBe(true);
    expect(w.slack.callsTo('chat.update').some((c) => c.error === 'streaming_state_conflict' && c.params.ts === reply.ts)).toBe(true);
    expect(
      w.slack
        .callsTo('chat.update')
        .filter((c) => c.ok)
        .at(-1)!.params.ts,
    ).toBe(reply.ts);
    for (const v of reply.history) expect(answer.startsWith(v)).toBe(true);
  });

  it('delivers the exact final text through 429s on chat.update, honouring Retry-After', async () => {
    w.slack.stream.mode = 'refuse';
    // A tight window makes every burst of updates hit Slack's limit, plus three injected 429s.
    w.slack.rateLimits['chat.update'] = { amount: 2, windowMs: 2_000, per: 'team' };
    w.slack.failNext('chat.update', 3, { retryAfterSeconds: 1 });
    const answer = words(150, 'rate');
    w.openai.script({ text: answer, chunkDelayMs: 15 });
    const m = await ask('rate limited');
    const replies = await answersIn(w, GENERAL, m.ts, answer, 20_000);
    expect(replies).toHaveLength(1);
    const updates = w.slack.callsTo('chat.update');
    const limited = updates.filter((c) => c.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(3);
    // A client ignoring Retry-After would hammer the window with dozens of refused calls.
    expect(limited.length).toBeLessThanOrEqual(8);
    for (const v of replies[0]!.history) expect(answer.startsWith(v)).toBe(true);
  });

  it('continues a long answer in the thread in messages under Slack’s 4,000-character limit', async () => {
    const answer = words(1300, 'long'); // ~10,000 characters
    w.openai.script({ text: answer, chunkDelayMs: 0 });
    const m = await ask('long answer');
    const replies = await eventually(
      () => {
        const mine = w.slack.ws.botMessages(GENERAL, m.ts);
        return !mine.some((x) => x.streaming) && mine.map((x) => x.text).join(' ') === answer ? mine : undefined;
      },
      20_000,
      'the long answer across messages',
    );
    expect(replies.length).toBeGreaterThanOrEqual(3);
    for (const r of replies) expect(r.text.length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
    expect(w.slack.calls.filter((c) => c.error === 'msg_too_long')).toHaveLength(0);
  });
});
