import { describe, expect, it } from 'vitest';
import { openStore } from '../../../src/store/store.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { conversationKey } from '../../../src/kernel/types.js';
import { ConversationLinks } from '../../../src/platforms/discord/links.js';
import { routeMessage, type MessageFacts } from '../../../src/platforms/discord/parse.js';

const BOT = '100000000000000001';
const GUILD = '100000000000000002';
const CHANNEL = '100000000000000003';

function facts(o: Partial<MessageFacts>): MessageFacts {
  return {
    id: '100000000000000010',
    channelId: CHANNEL,
    guildId: GUILD,
    isDm: false,
    author: { id: '100000000000000004', name: 'alice', bot: false, roles: [] },
    content: `<@${BOT}> hello`,
    mentionsBot: true,
    replyToBot: false,
    system: false,
    attachments: [],
    createdAt: 1,
    ...o,
  };
}

async function setup(replyMode: 'auto' | 'reply' | 'thread' = 'reply') {
  const links = new ConversationLinks(await openStore('memory://'), silentLogger());
  return { links, ctx: { botId: BOT, replyMode, links } };
}

describe('routeMessage', () => {
  it('keys a mention by its message id, so a thread opened on it shares the conversation', async () => {
    const { ctx } = await setup('thread');
    const mention = (await routeMessage(facts({}), ctx))!;
    expect(mention.message).toMatchObject({ workspace: GUILD, channel: CHANNEL, thread: '100000000000000010', trigger: 'mention', text: 'hello' });
    expect(mention.plan).toMatchObject({ kind: 'channel', startThread: { messageId: '100000000000000010' } });
    await ctx.links.markThread('100000000000000010');
    const inThread = (await routeMessage(
      facts({ id: '100000000000000011', channelId: '100000000000000010', threadParentId: CHANNEL, content: 'more', mentionsBot: false }),
      ctx,
    ))!;
    expect(conversationKey(inThread.message)).toBe(conversationKey(mention.message));
    expect(inThread.message.trigger).toBe('thread_follow_up');
  });

  it('in auto mode plans a reply, with a thread on the mention to open when the channel is busy', async () => {
    const { ctx } = await setup('auto');
    const mention = (await routeMessage(facts({}), ctx))!;
    expect(mention.plan).toMatchObject({
      kind: 'channel',
      replyTo: '100000000000000010',
      startThread: { guildId: GUILD, messageId: '100000000000000010', busyOnly: true },
    });
    const reply = (await routeMessage(facts({}), (await setup('reply')).ctx))!;
    expect(reply.plan).not.toHaveProperty('startThread');
  });

  it('ignores threads the bot is not part of, unless mentioned there', async () => {
    const { ctx } = await setup();
    const base = { channelId: '100000000000000020', threadParentId: CHANNEL };
    expect(await routeMessage(facts({ ...base, content: 'chat', mentionsBot: false }), ctx)).toBeUndefined();
    expect((await routeMessage(facts(base), ctx))?.message.thread).toBe('100000000000000020');
  });

  it('continues the linked conversation on a reply to a bot message, and roots a new one when the link is gone', async () => {
    const { ctx } = await setup();
    await ctx.links.recordBotMessage('100000000000000030', { channel: CHANNEL, thread: '100000000000000009' });
    const linked = (await routeMessage(facts({ content: 'and?', mentionsBot: false, replyToId: '100000000000000030', replyToBot: true }), ctx))!;
    expect(linked.message).toMatchObject({ channel: CHANNEL, thread: '100000000000000009', trigger: 'thread_follow_up' });
    expect(linked.plan).toMatchObject({ replyTo: '100000000000000010' });
    const unlinked = (await routeMessage(facts({ content: 'and?', mentionsBot: false, replyToId: '100000000000000031', replyToBot: true }), ctx))!;
    expect(unlinked.message.thread).toBe('100000000000000031');
  });

  it('drops bots, system messages, empty text (no Message Content) and unmentioned channel chatter', async () => {
    const { ctx } = await setup();
    expect(await routeMessage(facts({ author: { id: '5', name: 'b', bot: true, roles: [] } }), ctx)).toBeUndefined();
    expect(await routeMessage(facts({ author: { id: BOT, name: 'me', bot: false, roles: [] } }), ctx)).toBeUndefined();
    expect(await routeMessage(facts({ system: true }), ctx)).toBeUndefined();
    expect(await routeMessage(facts({ content: `<@${BOT}>` }), ctx)).toBeUndefined();
    expect(await routeMessage(facts({ content: 'hello', mentionsBot: false }), ctx)).toBeUndefined();
  });

  it('keeps one conversation per DM channel', async () => {
    const { ctx } = await setup();
    const dm = (await routeMessage(facts({ guildId: undefined, isDm: true, content: 'hi', mentionsBot: false }), ctx))!;
    expect(dm.message).toMatchObject({ workspace: '@dm', channel: CHANNEL, thread: CHANNEL, trigger: 'direct_message' });
  });
});
