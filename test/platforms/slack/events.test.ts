import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answersIn, eventually, quiet, startSlackWorld, type SlackWorld } from './harness.js';

const ADA = 'U0ADA00001';
const BOB = 'U0BOB00002';
const GENERAL = 'C0GENERAL1';

describe('Slack events over HTTP, through the real Bolt app', () => {
  let w: SlackWorld;
  beforeEach(async () => {
    w = await startSlackWorld();
  });
  afterEach(async () => {
    await w.stop();
  });

  /** A user writes in a channel and Slack delivers it: app_mention and, like Slack does, the plain message event. */
  async function mention(text: string, threadTs?: string) {
    const m = w.slack.userSays(GENERAL, ADA, text, threadTs);
    const res = await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')));
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'message')));
    return { m, res };
  }

  it('answers a mention in the message thread with a native stream whose final text is exactly the model answer', async () => {
    const answer = 'Parley answers **questions** in threads.\n\n- one\n- two\n\nSee [the docs](https://example.com/docs).';
    w.openai.script({ text: answer, chunkDelayMs: 5 });
    const { m, res } = await mention(`<@${w.slack.botUserId}> what does <#C0SUPPORT2> do, <@${BOB}>?`);
    expect(res.status).toBe(200);

    const replies = await answersIn(w, GENERAL, m.ts, answer);
    expect(replies).toHaveLength(1);
    const reply = replies[0]!;
    // Streamed natively (Markdown kept for Slack to render), addressed to the asker.
    expect(reply.format).toBe('markdown');
    expect(reply.recipient).toEqual({ team: w.slack.teamId, user: ADA });
    expect(w.slack.callsTo('chat.startStream')).toHaveLength(1);
    expect(w.slack.callsTo('chat.stopStream').filter((c) => c.ok)).toHaveLength(1);
    expect(w.slack.callsTo('chat.postMessage')).toHaveLength(0);

    // The model saw readable names, not Slack markup, and not the bot's own mention.
    const asked = w.openai.chatRequests[0]!.body.messages.at(-1).content as string;
    expect(asked).toContain('what does #support do, @Bob Babbage?');
    expect(asked).not.toContain('<@');

    await quiet();
    expect(w.openai.chatRequests).toHaveLength(1); // the duplicate `message` event did not trigger a second answer
  });

  it('answers a later message in the thread without a mention, with the earlier turn as context', async () => {
    w.openai.script('The first answer.');
    const { m } = await mention(`<@${w.slack.botUserId}> first question`);
    await answersIn(w, GENERAL, m.ts, 'The first answer.');

    w.openai.script('The second answer.');
    const followUp = w.slack.userSays(GENERAL, ADA, 'and a follow-up', m.ts);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(followUp)));
    await answersIn(w, GENERAL, m.ts, 'The second answer.');

    const messages = w.openai.chatRequests[1]!.body.messages as { role: string; content: string }[];
    const transcript = messages.map((x) => `${x.role}:${x.content}`).join('\n');
    expect(transcript).toContain('first question');
    expect(transcript).toContain('assistant:The first answer.');
    expect(messages.at(-1)!.content).toContain('and a follow-up');
  });

  it('does not answer messages in threads the bot is not part of, nor top-level channel chatter', async () => {
    const root = w.slack.userSays(GENERAL, ADA, 'a thread between people');
    const reply = w.slack.userSays(GENERAL, BOB, 'a reply between people', root.ts);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(root)));
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(reply)));
    await quiet();
    expect(w.openai.chatRequests).toHaveLength(0);
  });

  it('answers an event Slack retries (same event_id, X-Slack-Retry-Num) exactly once', async () => {
    w.openai.script({ text: 'Only once.', firstTokenDelayMs: 200 });
    const m = w.slack.userSays(GENERAL, ADA, `<@${w.slack.botUserId}> say it once`);
    const envelope = w.slack.envelope(w.slack.messageEvent(m, 'app_mention'));
    const results = await Promise.all([
      w.slack.deliver(w.eventsUrl, envelope),
      w.slack.deliver(w.eventsUrl, envelope, { retryNum: 1 }),
      w.slack.deliver(w.eventsUrl, envelope, { retryNum: 2 }),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    await answersIn(w, GENERAL, m.ts, 'Only once.');
    await w.slack.deliver(w.eventsUrl, envelope, { retryNum: 3 });
    await quiet();
    expect(w.openai.chatRequests).toHaveLength(1);
    expect(w.slack.ws.botMessages(GENERAL, m.ts)).toHaveLength(1);
  });

  it('rejects forged and stale signatures before any handler runs', async () => {
    const m = w.slack.userSays(GENERAL, ADA, `<@${w.slack.botUserId}> am I real?`);
    const forged = await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')), { secret: 'not-the-secret' });
    const badHeader = await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')), { forgeSignature: 'v0=deadbeef' });
    const stale = await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')), {
      timestampSeconds: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    // Correctly signed, but dated 10 minutes ahead: Slack's 5-minute window holds both ways (a replay kept for later).
    const future = await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')), {
      timestampSeconds: Math.floor(Date.now() / 1000) + 10 * 60,
    });
    expect(forged.status).toBe(401);
    expect(badHeader.status).toBe(401);
    expect(stale.status).toBe(401);
    expect(future.status).toBe(401);
    await quiet();
    expect(w.openai.chatRequests).toHaveLength(0);
    expect(w.slack.ws.botMessages()).toHaveLength(0);
  });

  it('answers Slack’s url_verification challenge (HTTP mode setup)', async () => {
    const res = await w.slack.deliver(w.eventsUrl, { token: 'legacy', challenge: 'challenge-123', type: 'url_verification' });
    expect(res.status).toBe(200);
    expect(res.body).toContain('challenge-123');
  });

  it('ignores its own messages, edits, deletions and other bots', async () => {
    const { m } = await mention(`<@${w.slack.botUserId}> hello`);
    await answersIn(w, GENERAL, m.ts, `You asked: hello`);
    const own = w.slack.ws.botMessages(GENERAL, m.ts)[0]!;
    const events = [
      w.slack.messageEvent(own, 'message', { user: w.slack.botUserId, bot_id: 'BBOT000001' }),
      { ...w.slack.messageEvent(m), subtype: 'message_changed', message: { text: 'edited' } },
      { ...w.slack.messageEvent(m), subtype: 'message_deleted' },
      w.slack.messageEvent(w.slack.userSays(GENERAL, 'U0OTHERBOT', 'beep', m.ts), 'message', { bot_id: 'B0OTHER', subtype: 'bot_message' }),
    ];
    for (const e of events) expect((await w.slack.deliver(w.eventsUrl, w.slack.envelope(e))).status).toBe(200);
    await quiet();
    expect(w.openai.chatRequests).toHaveLength(1);
  });

  it('answers direct messages in the DM, streamed natively', async () => {
    const dm = w.slack.userSays('D0ADA00001', ADA, 'a private question');
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(dm)));
    await answersIn(w, 'D0ADA00001', dm.ts, 'You asked: a private question');
    expect(w.slack.callsTo('chat.startStream')).toHaveLength(1);
  });

  it('agent view: opening the Messages tab sets suggested prompts for the DM, without a thread (apps created from slack/manifest.yaml)', async () => {
    await w.slack.deliver(
      w.eventsUrl,
      w.slack.envelope({ type: 'app_home_opened', user: ADA, channel: 'D0ADA00001', tab: 'home', event_ts: '1700000000.000001' }),
    );
    await w.slack.deliver(
      w.eventsUrl,
      w.slack.envelope({ type: 'app_home_opened', user: ADA, channel: 'D0ADA00001', tab: 'messages', event_ts: '1700000000.000002' }),
    );
    await eventually(() => w.slack.recorded.suggestedPrompts.length === 1, 5_000, 'suggested prompts');
    const set = w.slack.recorded.suggestedPrompts[0]!;
    expect(set).toMatchObject({ channel_id: 'D0ADA00001', prompts: [{ title: 'Ask a question', message: 'What can you help me with?' }, expect.anything()] });
    // Slack ignores the call for an agent app when it names a thread.
    expect(set.thread_ts).toBeUndefined();
    await quiet();
    expect(w.slack.recorded.suggestedPrompts).toHaveLength(1); // the Home tab is not the agent conversation
  });

  it('agent view: app_context_changed is accepted quietly, and a DM carrying app_context is answered in its own thread', async () => {
    const context = { entities: [{ type: 'slack#/types/channel_id', value: GENERAL, team_id: w.slack.teamId }] };
    const res = await w.slack.deliver(w.eventsUrl, w.slack.envelope({ type: 'app_context_changed', user: ADA, context, event_ts: '1700000000.000003' }));
    expect(res.status).toBe(200);

    const dm = w.slack.userSays('D0ADA00001', ADA, 'what is this channel about');
    await w.slack.deliver(w.eventsUrl, w.slack.envelope({ ...w.slack.messageEvent(dm), app_context: context }));
    await answersIn(w, 'D0ADA00001', dm.ts, 'You asked: what is this channel about');
    expect(w.openai.chatRequests).toHaveLength(1);
  });

  it('assistant view (apps created before agent view): suggested prompts in the panel thread, thinking status while answering', async () => {
    await w.slack.deliver(
      w.eventsUrl,
      w.slack.envelope({
        type: 'assistant_thread_started',
        assistant_thread: { user_id: ADA, channel_id: 'D0ADA00001', thread_ts: '1700000000.000001', context: {} },
      }),
    );
    await eventually(() => w.slack.recorded.suggestedPrompts.length === 1, 5_000, 'suggested prompts');
    expect(w.slack.recorded.suggestedPrompts[0]).toMatchObject({ channel_id: 'D0ADA00001', thread_ts: '1700000000.000001' });

    const q = w.slack.userSays('D0ADA00001', ADA, 'panel question', '1700000000.000001');
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(q)));
    await answersIn(w, 'D0ADA00001', '1700000000.000001', 'You asked: panel question');
    expect(w.slack.recorded.statuses.some((s) => s.thread_ts === '1700000000.000001' && s.status)).toBe(true);
  });
});
