import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { ChannelType, snowflake, user } from '../../fakes/discord/model.js';
import type { ScriptedReply } from '../../fakes/openai-server.js';

/**
 * Several people at once in one Discord channel, with the default reply mode (`auto`): the first
 * mention in a quiet channel gets a reply; a mention while the channel is busy answering gets a
 * thread of its own (its own write budget); forum posts are answered in the post; without the
 * permission to open threads the bot replies in the channel.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SLOW_ANSWER = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');

/** The first question gets a slow streamed answer; every other one is echoed. */
function scriptByQuestion(h: Harness): void {
  h.openai.defaultReply = (req): ScriptedReply => {
    const last = [...(req.body.messages ?? [])].reverse().find((m: any) => m.role === 'user');
    const q = typeof last?.content === 'string' ? last.content : '';
    return q.includes('first question') ? { text: SLOW_ANSWER, chunkDelayMs: 100 } : { text: `You asked: ${q}` };
  };
}

describe('Discord crowd in one channel (auto reply mode)', () => {
  it('replies in a quiet channel, answers a mention in a busy one in its own thread, and follow-ups there continue it', async () => {
    h = await startHarness();
    scriptByQuestion(h);
    const d = h.discord;
    const bob = user(snowflake(), 'bob');
    d.users.set(bob.id, bob);

    const first = d.userSays({ content: 'first question', mentionBot: true });
    // Once the first answer is being written in the channel, the channel is busy.
    await d.waitFor(() => d.botMessages().find((m) => m.message_reference?.message_id === first.id), 15_000, 'first answer started');
    const second = d.userSays({ content: 'second question', mentionBot: true, author: bob });

    const inThread = await d.waitFor(() => d.botMessages(second.id).find((m) => m.content === 'You asked: second question'), 15_000, 'answer in a thread');
    expect(d.channels.get(second.id)?.type).toBe(ChannelType.PublicThread);
    expect(d.channels.get(second.id)?.parent_id).toBe(d.channelId);
    expect(inThread.allowed_mentions).toEqual({ parse: [], replied_user: false });
    // The first reply ends exactly on its answer, in the channel, as a reply to its question.
    const reply = await d.waitFor(() => d.botMessages().find((m) => m.content === SLOW_ANSWER), 20_000, 'first answer final');
    expect(reply.message_reference?.message_id).toBe(first.id);
    expect(d.botMessages(d.channelId).some((m) => m.content.includes('second question'))).toBe(false);

    // A follow-up in the new thread, without a mention, continues the second conversation.
    d.userSays({ content: 'and a follow-up', channelId: second.id, author: bob });
    await d.waitFor(() => d.botMessages(second.id).find((m) => m.content === 'You asked: and a follow-up'), 15_000, 'follow-up answer');
    const followUpRequest = h.openai.chatRequests.find((r) => JSON.stringify(r.body.messages).includes('and a follow-up'))!;
    expect(JSON.stringify(followUpRequest.body.messages)).toContain('second question');
    expect(JSON.stringify(followUpRequest.body.messages)).not.toContain('first question');
    expect(d.requests.filter((r) => r.status === 429)).toHaveLength(0);
  });

  it('falls back to a reply in the channel when threads are forbidden (403, 50013)', async () => {
    h = await startHarness({ beforeStart: (d) => (d.allowThreads = false) });
    scriptByQuestion(h);
    const d = h.discord;
    const first = d.userSays({ content: 'first question', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.message_reference?.message_id === first.id), 15_000, 'first answer started');
    const second = d.userSays({ content: 'second question', mentionBot: true });
    const reply = await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: second question'), 15_000, 'reply in the channel');
    expect(reply.message_reference?.message_id).toBe(second.id);
    expect(d.requests.some((r) => r.path.endsWith('/threads') && r.status === 403)).toBe(true);
    await d.waitFor(() => d.botMessages().find((m) => m.content === SLOW_ANSWER), 20_000, 'first answer final');
  });

  it('answers a mention in a forum post inside the post, opening no thread', async () => {
    const forumId = snowflake();
    h = await startHarness({ beforeStart: (d) => d.channels.set(forumId, { id: forumId, type: ChannelType.GuildForum, name: 'help', guild_id: d.guildId }) });
    const d = h.discord;
    const { thread } = d.forumPost({ forumId, title: 'Login broken', content: 'my login is broken', mentionBot: true });
    const answer = await d.waitFor(() => d.botMessages(thread.id).find((m) => m.content === 'You asked: my login is broken'), 15_000, 'answer in the post');
    expect(answer.channel_id).toBe(thread.id);
    expect(d.requests.some((r) => r.path.endsWith('/threads'))).toBe(false);
    expect(d.botMessages(forumId)).toHaveLength(0);
  });

  it('paces a channel from the X-RateLimit headers: a burst of messages beyond the bucket meets no 429', async () => {
    // A small bucket so the burst outgrows it: 2 creations and 2 edits per second per channel.
    h = await startHarness({
      env: { DISCORD_REPLY_MODE: 'reply' },
      beforeStart: (d) => {
        d.routeLimits.limits = {
          ...d.routeLimits.limits,
          createMessage: { amount: 2, windowMs: 1_000, scope: 'user' },
          editMessage: { amount: 2, windowMs: 1_000, scope: 'user' },
        };
      },
    });
    const d = h.discord;
    const questions = ['one', 'two', 'three', 'four', 'five'].map((q) => d.userSays({ content: `question ${q}`, mentionBot: true }));
    for (const q of questions)
      await d.waitFor(() => d.botMessages().find((m) => m.content === `You asked: ${q.content.replace(/^<@\d+> /, '')}`), 20_000, 'every answer');
    // Paced from the headers, the burst fits the buckets. A loaded machine can delay a request
    // between the pacer and the fake past a reset it was timed for, so one or two 429s are
    // tolerated; unpaced, this burst of five answers meets a 429 on most of its writes.
    expect(d.requests.filter((r) => r.status === 429).length).toBeLessThanOrEqual(2);
    // Nor did @discordjs/rest refuse many requests for an empty bucket (it throws those as rate limits too).
    const limited = await h.parley.metrics.rateLimited.get();
    expect(limited.values.filter((v) => v.labels.platform === 'discord').reduce((n, v) => n + v.value, 0)).toBeLessThanOrEqual(2);
    // The fake really limited: its answers carried the bucket's state.
    expect(d.requests.filter((r) => r.method === 'POST' && /\/channels\/\d+\/messages$/.test(r.path)).length).toBeGreaterThan(2);
  });
});
