import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answersIn, eventually, startSlackWorld, type SlackWorld } from '../platforms/slack/harness.js';
import { until } from '../helpers/process.js';

/**
 * Block Kit feedback buttons and the handoff on Slack, through the real Bolt app and the fake
 * Slack (HTTP mode: events and interactive payloads signed as Slack signs them).
 */
const ADA = 'U0ADA00001';
const GENERAL = 'C0GENERAL1';
const ESCALATIONS = 'C0SUPPORT2';
const SUPPORT_GROUP = 'S0SUPPORT01';

describe('Slack feedback', () => {
  let w: SlackWorld;
  beforeEach(async () => {
    w = await startSlackWorld({ env: { HANDOFF_CHANNEL: `slack:${ESCALATIONS}`, HANDOFF_PING: SUPPORT_GROUP } });
  });
  afterEach(async () => {
    await w.stop();
  });

  async function ask(text: string) {
    w.openai.script(`Answer to: ${text}`);
    const m = w.slack.userSays(GENERAL, ADA, `<@${w.slack.botUserId}> ${text}`);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')));
    await answersIn(w, GENERAL, m.ts, `Answer to: ${text}`, 20_000);
    const prompt = await eventually(
      () => w.slack.recorded.ephemerals.find((e) => e.thread_ts === m.ts && JSON.stringify(e.blocks ?? '').includes('parley:fb:up')),
      20_000,
      'feedback buttons',
    );
    return { m, prompt };
  }

  const blocksOf = (blocks: unknown): any[] => (typeof blocks === 'string' ? JSON.parse(blocks) : ((blocks as any[]) ?? []));
  const actionIds = (blocks: unknown) => blocksOf(blocks).flatMap((b) => (b.type === 'actions' ? b.elements.map((e: any) => `${e.action_id}=${e.value}`) : []));

  // Generous timeouts: on two shared cores a loaded run can take several seconds per step.
  it('offers 👍/👎/Talk to a human privately to the asker, and a 👍 click is counted and thanked', { timeout: 60_000 }, async () => {
    const { m, prompt } = await ask('how do I reset my password?');
    expect(prompt.user).toBe(ADA);
    expect(actionIds(prompt.blocks)).toEqual([`parley:fb:up=${m.ts}`, `parley:fb:down=${m.ts}`, `parley:fb:handoff=${m.ts}`]);

    const res = await w.slack.clickButton(w.eventsUrl, { user: ADA, channel: GENERAL, threadTs: m.ts, actionId: 'parley:fb:up', value: m.ts });
    expect(res.status).toBe(200);
    await eventually(() => w.slack.recorded.ephemerals.find((e) => e.text === 'Thanks for the feedback! 👍'), 20_000, 'thanks');
    await w.parley.support.desk.idle();
    const buckets = await w.parley.support.analytics.buckets(Date.now() - 86_400_000, Date.now());
    expect(buckets.reduce((n, b) => n + b.up, 0)).toBe(1);
  });

  it('hands off to the escalation channel pinging only the configured user group, then stays quiet until resume', { timeout: 60_000 }, async () => {
    const { m } = await ask('my export fails');
    await w.slack.clickButton(w.eventsUrl, { user: ADA, channel: GENERAL, threadTs: m.ts, actionId: 'parley:fb:handoff', value: m.ts });
    const posted = await eventually(() => w.slack.ws.botMessages(ESCALATIONS)[0], 20_000, 'handoff message');
    expect(posted.text.startsWith(`<!subteam^${SUPPORT_GROUP}> `)).toBe(true);
    expect(posted.text.match(/<!subteam\^/g)).toHaveLength(1);
    expect(posted.text).not.toMatch(/<!(channel|here|everyone)>/);
    expect(posted.text).toMatch(/Asker: .*U0ADA00001/);
    expect(posted.text).toContain(`https://slack.com/archives/${GENERAL}/p${m.ts.replace('.', '')}`);
    const notice = await eventually(
      () => w.slack.ws.botMessages(GENERAL, m.ts).find((x) => x.text.startsWith('I’ve asked a human') || x.text.startsWith("I've asked a human")),
      20_000,
      'notice',
    );
    expect(notice).toBeDefined();

    const before = w.openai.chatRequests.length;
    const statusesBefore = w.slack.callsTo('assistant.threads.setStatus').length;
    const quietMsg = w.slack.userSays(GENERAL, ADA, 'hello? anyone?', m.ts);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(quietMsg)));
    const resume = w.slack.userSays(GENERAL, ADA, 'resume', m.ts);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(resume)));
    await eventually(
      () => w.slack.ws.botMessages(GENERAL, m.ts).find((x) => x.text === "I'm back. Ask me anything." || x.text === 'I’m back. Ask me anything.'),
      20_000,
      'resumed',
    );
    expect(w.openai.chatRequests.length).toBe(before);
    // The quiet turn opened no reply at all: only the `resume` turn showed "is thinking…".
    expect(w.slack.callsTo('assistant.threads.setStatus').length).toBe(statusesBefore + 1);
  });

  it('counts a 👍 or 👎 reaction on the answer as a vote, one per person, ignoring other emoji', { timeout: 60_000 }, async () => {
    const { m } = await ask('where are my invoices?');
    const [answer] = w.slack.ws.botMessages(GENERAL, m.ts);
    const react = (user: string, reaction: string) =>
      w.slack.deliver(
        w.eventsUrl,
        w.slack.envelope({
          type: 'reaction_added',
          user,
          reaction,
          item: { type: 'message', channel: GENERAL, ts: answer!.ts },
          item_user: w.slack.botUserId,
          event_ts: `${Date.now() / 1000}`,
        }),
      );
    await react(ADA, 'tada');
    await react(ADA, '+1');
    await react(ADA, '-1');
    await react('U0BOB00002', 'thumbsup');
    await w.parley.support.desk.idle();
    const votes = async () => {
      const buckets = await w.parley.support.analytics.buckets(Date.now() - 86_400_000, Date.now());
      return { up: buckets.reduce((n, b) => n + b.up, 0), down: buckets.reduce((n, b) => n + b.down, 0) };
    };
    // Ada's 👎 replaced her 👍; Bob's 👍 counts; 🎉 does not.
    expect(
      await until(
        async () => {
          const v = await votes();
          return v.up === 1 && v.down === 1 ? v : undefined;
        },
        20_000,
        'the votes',
      ),
    ).toEqual({ up: 1, down: 1 });
  });

  it('👎 opens a form for an optional reason; the vote counts at once and the reason is stored with it', { timeout: 60_000 }, async () => {
    const { m } = await ask('why is my timer off?');
    await w.slack.clickButton(w.eventsUrl, { user: ADA, channel: GENERAL, threadTs: m.ts, actionId: 'parley:fb:down', value: m.ts });
    const opened = await eventually(() => w.slack.recorded.views[0], 20_000, 'the reason form');
    const view = typeof opened.view === 'string' ? JSON.parse(opened.view) : opened.view;
    expect(view.callback_id).toBe('parley_fb_reason');
    expect(view.blocks[0]).toMatchObject({ type: 'input', optional: true });
    const res = await w.slack.submitView(w.eventsUrl, { user: ADA, view, values: { reason: { text: 'It skipped the 2FA step' } } });
    expect(res.status).toBe(200);
    await w.parley.support.desk.idle();
    const vote = await until(
      async () => {
        const record = await w.parley.support.desk.answers.get('slack', m.ts);
        const v = record && (await w.parley.support.desk.answers.voteOf(record, ADA));
        return v?.reason ? v : undefined;
      },
      20_000,
      'the reason',
    );
    expect(vote).toMatchObject({ vote: 'down', reason: 'It skipped the 2FA step' });
    const buckets = await w.parley.support.analytics.buckets(Date.now() - 86_400_000, Date.now());
    expect(buckets.reduce((n, b) => n + b.down, 0)).toBe(1);
  });
});
