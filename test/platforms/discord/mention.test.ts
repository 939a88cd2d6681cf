import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

/** Mentions, reply chains, threads and DMs, through the real discord.js client and the fake Discord. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SAFE_MENTIONS = { parse: [], replied_user: false };

describe('Discord mentions', () => {
  it('streams the answer to a mention by editing one reply, ending on exactly the model text', async () => {
    h = await startHarness();
    const answer = 'Streaming works: this answer arrives in many small pieces, so the reply is edited as it grows, and ends exact.';
    // The model thinks a moment before its first token: time for a typing indicator.
    h.openai.script({ text: answer, chunkDelayMs: 60, firstTokenDelayMs: 500 });
    const question = h.discord.userSays({ content: 'how does streaming work?', mentionBot: true });

    const reply = await h.discord.waitFor(() => h!.discord.botMessages().find((m) => m.content === answer), 15_000, 'final answer');
    expect(reply.message_reference?.message_id).toBe(question.id);
    // Streamed: the message was created with partial text and edited towards the final text.
    expect(reply.history.length).toBeGreaterThan(1);
    expect(reply.history[0]!.length).toBeLessThan(answer.length);
    for (const shown of reply.history) expect(answer.startsWith(shown)).toBe(true);
    // One message, one model call (the bot ignored its own message echoed on the gateway).
    expect(h.discord.botMessages()).toHaveLength(1);
    expect(h.openai.chatRequests).toHaveLength(1);
    // The typing indicator ran in the channel before the first text, and never after it (it would
    // show "typing…" under the answer).
    const typing = h.discord.typing.filter((t) => t.channelId === h!.discord.channelId);
    expect(typing.length).toBeGreaterThan(0);
    for (const t of typing) expect(t.at).toBeLessThanOrEqual(reply.created_at);
    expect(reply.allowed_mentions).toEqual(SAFE_MENTIONS);
  });

  it('continues the conversation when a user replies to the bot, without a mention, along the chain', async () => {
    h = await startHarness();
    const d = h.discord;
    d.userSays({ content: 'my favourite colour is teal', mentionBot: true });
    const first = await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: my favourite colour is teal'), 10_000, 'first answer');

    const followUp = d.userSays({ content: 'what colour did I say?', replyTo: first.id });
    const second = await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: what colour did I say?'), 10_000, 'second answer');
    expect(second.message_reference?.message_id).toBe(followUp.id);
    const history = h.openai.chatRequests[1]!.body.messages.map((m: any) => m.content).join('\n');
    expect(history).toContain('my favourite colour is teal');
    expect(history).toContain('You asked: my favourite colour is teal');

    // A reply to the bot's second answer is still the same conversation.
    d.userSays({ content: 'and again?', replyTo: second.id });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: and again?'), 10_000, 'third answer');
    const third = h.openai.chatRequests[2]!.body.messages.map((m: any) => m.content).join('\n');
    expect(third).toContain('my favourite colour is teal');
    expect(third).toContain('what colour did I say?');
  });

  it('ignores channel messages without a mention, its own messages and other bots', async () => {
    h = await startHarness();
    const d = h.discord;
    d.userSays({ content: 'just chatting, no bot here' });
    d.userSays({ content: 'I am a bot, answer me', mentionBot: true, author: d.otherBot });
    // A later mention is answered; by then the earlier messages would have been too.
    d.userSays({ content: 'now you', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: now you'), 10_000, 'answer');
    expect(h.openai.chatRequests).toHaveLength(1);
    expect(d.botMessages()).toHaveLength(1);
  });

  it('answers direct messages in the DM, keeping one conversation per DM channel', async () => {
    h = await startHarness();
    const d = h.discord;
    d.userSays({ content: 'remember: 42', channelId: d.dmChannelId });
    await d.waitFor(() => d.botMessages(d.dmChannelId).find((m) => m.content === 'You asked: remember: 42'), 10_000, 'DM answer');
    d.userSays({ content: 'what number?', channelId: d.dmChannelId });
    await d.waitFor(() => d.botMessages(d.dmChannelId).find((m) => m.content === 'You asked: what number?'), 10_000, 'second DM answer');
    expect(JSON.stringify(h.openai.chatRequests[1]!.body.messages)).toContain('remember: 42');
  });

  it('in thread mode opens a thread on the question and answers follow-ups there without a mention', async () => {
    h = await startHarness({ env: { DISCORD_REPLY_MODE: 'thread' } });
    const d = h.discord;
    const question = d.userSays({ content: 'start a thread please', mentionBot: true });
    // Discord gives a thread started on a message the message's id.
    const answer = await d.waitFor(() => d.botMessages(question.id).find((m) => m.content === 'You asked: start a thread please'), 10_000, 'thread answer');
    expect(d.channels.get(question.id)?.parent_id).toBe(d.channelId);
    expect(d.botMessages(d.channelId)).toHaveLength(0);
    expect(answer.allowed_mentions).toEqual(SAFE_MENTIONS);

    d.userSays({ content: 'follow-up without mention', channelId: question.id });
    await d.waitFor(() => d.botMessages(question.id).find((m) => m.content === 'You asked: follow-up without mention'), 10_000, 'follow-up answer');
    expect(JSON.stringify(h.openai.chatRequests[1]!.body.messages)).toContain('start a thread please');
  });

  it('in thread mode without permission to open threads, replies in the channel instead', async () => {
    h = await startHarness({ env: { DISCORD_REPLY_MODE: 'thread' }, beforeStart: (d) => (d.allowThreads = false) });
    const d = h.discord;
    const question = d.userSays({ content: 'no threads here', mentionBot: true });
    const reply = await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: no threads here'), 10_000, 'channel reply');
    expect(reply.message_reference?.message_id).toBe(question.id);
    expect(d.requests.some((r) => r.path.endsWith('/threads') && r.status === 403)).toBe(true);
  });
});
