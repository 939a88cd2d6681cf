import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answersIn, eventually, quiet, startSlackWorld, type SlackWorld } from './harness.js';

const ADA = 'U0ADA00001';
const GENERAL = 'C0GENERAL1';
/** Slack shows the user an error when a slash command is not acknowledged within 3 seconds. */
const SLASH_COMMAND_ACK_MS = 3_000;

describe('/ask over HTTP', () => {
  let w: SlackWorld;
  beforeEach(async () => {
    w = await startSlackWorld();
  });
  afterEach(async () => {
    await w.stop();
  });

  it('acknowledges within 3 s even when the model is slow, echoes the question with the asker and answers in its thread', async () => {
    w.openai.script({ text: 'Reset it from the login page.', firstTokenDelayMs: 3_500 });
    const payload = w.slack.commandPayload({ text: 'how do I reset my password?', user: ADA, channel: GENERAL });
    const res = await w.slack.sendCommand(w.eventsUrl, payload);
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(SLASH_COMMAND_ACK_MS);

    const echo = await eventually(() => w.slack.ws.botMessages(GENERAL).find((m) => !m.thread_ts), 5_000, 'the echo');
    expect(echo.text).toBe(`<@${ADA}> asked: how do I reset my password?`);
    const replies = await answersIn(w, GENERAL, echo.ts, 'Reset it from the login page.');
    expect(replies).toHaveLength(1);
    expect(w.openai.chatRequests[0]!.body.messages.at(-1).content).toContain('how do I reset my password?');
    expect(w.slack.responsesFor(payload)).toHaveLength(0);
  });

  it('answers `/ask private …` only to the asker through response_url: a placeholder, then the exact final text', async () => {
    const answer = 'Only you can see this answer.';
    w.openai.script({ text: answer, chunkDelayMs: 20 });
    const payload = w.slack.commandPayload({ text: 'private what is my quota?', user: ADA, channel: GENERAL });
    const res = await w.slack.sendCommand(w.eventsUrl, payload);
    expect(res.status).toBe(200);
    expect(res.ms).toBeLessThan(SLASH_COMMAND_ACK_MS);

    const responses = await eventually(
      () => {
        const r = w.slack.responsesFor(payload);
        return r.at(-1)?.body.text === answer ? r : undefined;
      },
      10_000,
      'the private final answer',
    );
    // Within response_url's budget of 5 posts: progress edits are not sent.
    expect(responses.length).toBeLessThanOrEqual(2);
    expect(responses.every((r) => r.status === 200 && r.body.response_type === 'ephemeral')).toBe(true);
    if (responses.length === 2) expect(responses[1]!.body.replace_original).toBe(true);
    // Nothing in the channel, and the model got the question without the `private` keyword.
    expect(w.slack.ws.botMessages(GENERAL)).toHaveLength(0);
    expect(w.openai.chatRequests[0]!.body.messages.at(-1).content).toContain('what is my quota?');
    expect(w.openai.chatRequests[0]!.body.messages.at(-1).content).not.toContain('private');
  });

  it('replies with usage to an empty /ask and asks nothing', async () => {
    const res = await w.slack.sendCommand(w.eventsUrl, w.slack.commandPayload({ text: '  ', user: ADA, channel: GENERAL }));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ response_type: 'ephemeral' });
    await quiet();
    expect(w.openai.chatRequests).toHaveLength(0);
  });

  it('neutralises @here / <!channel> in the echoed question', async () => {
    await w.slack.sendCommand(w.eventsUrl, w.slack.commandPayload({ text: 'ping <!channel> and @here please', user: ADA, channel: GENERAL }));
    const echo = await eventually(() => w.slack.ws.botMessages(GENERAL).find((m) => !m.thread_ts), 5_000, 'the echo');
    expect(echo.text).not.toMatch(/<!channel>|(^|\s)@here\b/);
    expect(echo.text.replaceAll('\u200B', '')).toContain('@channel and @here please');
  });
});
