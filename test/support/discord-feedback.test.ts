import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../platforms/discord/harness.js';
import type { FakeMessage } from '../fakes/discord/index.js';

/**
 * Buttons, the 👎 reason modal, reactions and the handoff, through the real discord.js client
 * and the fake Discord (REST + gateway), with Parley started as an operator would.
 */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ESCALATION_CHANNEL = '222222222222222222';
const SUPPORT_ROLE = '333333333333333333';
const OTHER_ROLE = '444444444444444444';
const CANDIDATE_ROLE_IN_TEXT = '555555555555555555';

async function start(env: Record<string, string> = {}): Promise<Harness> {
  return startHarness({
    env: { HANDOFF_CHANNEL: `discord:${ESCALATION_CHANNEL}`, HANDOFF_PING: SUPPORT_ROLE, ...env },
    beforeStart: (d) => d.channels.set(ESCALATION_CHANNEL, { id: ESCALATION_CHANNEL, type: 0, name: 'support-escalations', guild_id: d.guildId }),
  });
}

/** Asks with a mention and waits for the answer carrying its buttons. */
async function ask(h: Harness, question: string): Promise<{ question: FakeMessage; answer: FakeMessage }> {
  const d = h.discord;
  const q = d.userSays({ content: question, mentionBot: true });
  const answer = await d.waitFor(
    () => d.botMessages().find((m) => m.message_reference?.message_id === q.id && (m.components?.length ?? 0) > 0),
    20_000,
    'answer with buttons',
  );
  return { question: q, answer };
}

const buttonIds = (m: FakeMessage) => (m.components ?? []).flatMap((row: any) => row.components.map((c: any) => c.custom_id as string));
const totals = async (h: Harness) => {
  await h.parley.support.desk.idle();
  const buckets = await h.parley.support.analytics.buckets(Date.now() - 86_400_000, Date.now());
  return buckets.reduce((t, b) => ({ up: t.up + b.up, down: t.down + b.down, handoffs: t.handoffs + b.handoffs, questions: t.questions + b.questions }), {
    up: 0,
    down: 0,
    handoffs: 0,
    questions: 0,
  });
};

describe('Discord feedback', () => {
  it('puts 👍/👎/Talk to a human on the answer; a 👍 click thanks privately and counts once per person', { timeout: 60_000 }, async () => {
    h = await start();
    const d = h.discord;
    const { question, answer } = await ask(h, 'how do I reset my password?');
    expect(answer.content).toBe('You asked: how do I reset my password?');
    expect(buttonIds(answer)).toEqual([`parley:fb:up:${question.id}`, `parley:fb:down:${question.id}`, `parley:fb:handoff:${question.id}`]);

    const click = d.clickButton({ message: answer, customId: `parley:fb:up:${question.id}` });
    const thanks = await d.waitFor(() => d.botMessages().find((m) => m.interaction_token === click.token), 20_000, 'ephemeral thanks');
    expect(click.callback?.type).toBe(6); // acknowledged in time, without touching the answer
    expect(thanks.content).toBe('Thanks for the feedback! 👍');
    expect(thanks.flags & (1 << 6)).toBeTruthy();
    expect(await totals(h)).toMatchObject({ up: 1, down: 0, questions: 1 });

    // The same person again: still one 👍; a 👎 reaction from them replaces it.
    const again = d.clickButton({ message: answer, customId: `parley:fb:up:${question.id}` });
    await d.waitFor(() => d.botMessages().find((m) => m.interaction_token === again.token), 20_000, 'second thanks');
    expect(await totals(h)).toMatchObject({ up: 1, down: 0 });
    d.react({ message: answer, emoji: '👎' });
    await expect.poll(async () => (await totals(h!)).down, { timeout: 20_000 }).toBe(1);
    expect(await totals(h)).toMatchObject({ up: 0, down: 1 });
    // Another person's 👍 reaction counts separately; other emoji do not count.
    d.react({ message: answer, emoji: '🎉', author: d.otherBot });
    const bob = { ...d.defaultUser, id: '666666666666666666', username: 'bob' };
    d.users.set(bob.id, bob);
    d.react({ message: answer, emoji: '👍', author: bob });
    await expect.poll(async () => (await totals(h!)).up, { timeout: 20_000 }).toBe(1);
    expect(await totals(h)).toMatchObject({ up: 1, down: 1 });
  });

  it('👎 opens a modal for an optional reason; the reason is stored with the one vote', { timeout: 60_000 }, async () => {
    h = await start();
    const d = h.discord;
    const { question, answer } = await ask(h, 'where is the invoice?');
    const click = d.clickButton({ message: answer, customId: `parley:fb:down:${question.id}` });
    await d.waitFor(() => click.modal, 20_000, 'reason modal');
    expect(click.callback?.type).toBe(9);
    expect(click.modal!.components[0].components[0]).toMatchObject({ type: 4, required: false });
    await expect.poll(async () => (await totals(h!)).down, { timeout: 20_000 }).toBe(1);

    const submit = d.submitModal({ opener: click, values: { reason: 'It linked the wrong page' } });
    const noted = await d.waitFor(() => d.botMessages().find((m) => m.interaction_token === submit.token), 20_000, 'reason thanks');
    expect(noted.content).toBe('Thanks, your comment was recorded.');
    const record = await h.parley.support.desk.answers.get('discord', question.id);
    expect(await h.parley.support.desk.answers.voteOf(record!, d.defaultUser.id)).toMatchObject({ vote: 'down', reason: 'It linked the wrong page' });
    expect(await totals(h)).toMatchObject({ down: 1, up: 0 });
  });

  it('hands off: posts asker, link and summary to the escalation channel pinging only the support role, then stays quiet until resume', {
    timeout: 60_000,
  }, async () => {
    h = await start();
    const d = h.discord;
    const { question, answer } = await ask(h, 'my export keeps failing with error E42');
    h.openai.defaultReply = (req) =>
      /summarise a support conversation/.test(JSON.stringify(req.body.messages[0]))
        ? { text: `The user's export fails with E42 <@&${CANDIDATE_ROLE_IN_TEXT}>.` }
        : { text: 'You asked: something' };
    const before = h.openai.chatRequests.length;

    d.clickButton({ message: answer, customId: `parley:fb:handoff:${question.id}` });
    const posted = await d.waitFor(() => d.botMessages(ESCALATION_CHANNEL)[0], 20_000, 'handoff message');
    expect(posted.content.startsWith(`<@&${SUPPORT_ROLE}> `)).toBe(true);
    expect(posted.content).toContain('Asker: alice');
    expect(posted.content).toContain(`https://discord.com/channels/${d.guildId}/${d.channelId}/${answer.id}`);
    expect(posted.content).toContain("Summary: The user's export fails with E42");
    expect(posted.allowed_mentions).toEqual({ parse: [], roles: [SUPPORT_ROLE], replied_user: false });
    // Only the configured role is pinged, not a role the model wrote into the summary.
    expect(posted.pinged_roles).toEqual([SUPPORT_ROLE]);
    expect(posted.content).not.toContain(`<@&${CANDIDATE_ROLE_IN_TEXT}>`);
    expect(posted.content).not.toContain(OTHER_ROLE);
    expect(h.openai.chatRequests.length).toBe(before + 1);

    // The thread is told, with a way back.
    const notice = await d.waitFor(() => d.botMessages().find((m) => m.content.startsWith("I've asked a human")), 20_000, 'handoff notice');
    expect(buttonIds(notice)).toEqual([`parley:fb:resume:${question.id}`]);
    expect(await totals(h)).toMatchObject({ handoffs: 1 });

    // Quiet: a follow-up in the thread gets no answer, no typing indicator and no model call…
    const typingBefore = d.typing.length;
    const received = new Promise<void>((r) => h!.parley.engine.onMessage((m) => void (m.text === 'hello? anyone?' && r())));
    d.userSays({ content: 'hello? anyone?', replyTo: answer.id });
    await received;
    await h.parley.engine.drain();
    expect(d.typing.length).toBe(typingBefore);
    // …and "resume" brings the bot back (turns of one thread run in order, so the quiet one is done by then).
    d.userSays({ content: 'resume', replyTo: answer.id });
    await d.waitFor(() => d.botMessages().find((m) => m.content === "I'm back. Ask me anything."), 20_000, 'resumed');
    expect(d.botMessages().filter((m) => m.content === 'You asked: something')).toHaveLength(0);
    expect(h.openai.chatRequests.length).toBe(before + 1);
    d.userSays({ content: 'so what about E42?', replyTo: answer.id });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: something'), 20_000, 'answering again');
  });

  it('the resume button on the handoff notice ends the quiet', { timeout: 60_000 }, async () => {
    h = await start();
    const d = h.discord;
    const { question, answer } = await ask(h, 'please get me a person');
    d.clickButton({ message: answer, customId: `parley:fb:handoff:${question.id}` });
    const notice = await d.waitFor(() => d.botMessages().find((m) => m.content.startsWith("I've asked a human")), 20_000, 'handoff notice');
    const record = await h.parley.support.desk.answers.get('discord', question.id);
    expect(await h.parley.support.handoff.stateOf(record!.conversation)).toBeDefined();
    d.clickButton({ message: notice, customId: `parley:fb:resume:${question.id}` });
    await d.waitFor(() => d.botMessages().filter((m) => m.content === "I'm back. Ask me anything.").length === 1, 20_000, 'resumed notice');
    expect(await h.parley.support.handoff.stateOf(record!.conversation)).toBeUndefined();
  });
});
