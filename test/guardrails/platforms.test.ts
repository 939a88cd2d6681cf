import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../platforms/discord/harness.js';
import { eventually, startSlackWorld, type SlackWorld } from '../platforms/slack/harness.js';

/**
 * The same guardrails on the real platforms' paths: Parley started as an operator starts it
 * (createCore installs them), against the fake Slack and the fake Discord.
 */
const SECRET = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAB7CD0EF';
const CROWD = 'Heads up @everyone and <!channel> and ＠ｈｅｒｅ!';
const crowdPing = (text: string) => /@(everyone|here|channel)|<!(channel|here|everyone)/i.test(text.normalize('NFKC'));

describe('guardrails on Slack', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.stop();
    w = undefined;
  });

  it('redacts a secret before the model sees it and never shows a crowd ping, partial or final', async () => {
    w = await startSlackWorld();
    w.openai.script({ text: CROWD, chunkDelayMs: 5 });
    const m = w.slack.userSays('C0GENERAL1', 'U0ADA00001', `<@${w.slack.botUserId}> is my key ${SECRET} leaked?`);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')));
    const reply = await eventually(
      () => w!.slack.ws.botMessages('C0GENERAL1', m.ts).find((x) => !x.streaming && x.text.includes('I removed an API key')),
      15_000,
      'the final answer',
    );
    const asked = w.openai.chatRequests[0]!.body.messages.at(-1).content as string;
    expect(asked).toContain('is my key [API key removed] leaked?');
    expect(JSON.stringify(w.openai.chatRequests[0]!.body)).not.toContain(SECRET);
    expect(crowdPing(reply.text)).toBe(false);
    for (const call of [
      ...w.slack.callsTo('chat.startStream'),
      ...w.slack.callsTo('chat.appendStream'),
      ...w.slack.callsTo('chat.stopStream'),
      ...w.slack.callsTo('chat.postMessage'),
      ...w.slack.callsTo('chat.update'),
    ]) {
      expect(crowdPing(JSON.stringify(call)), JSON.stringify(call)).toBe(false);
    }
  });
});

describe('guardrails on Discord', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('redacts a secret before the model sees it and never shows a crowd ping in any version of the reply', async () => {
    h = await startHarness();
    h.openai.script({ text: CROWD, chunkDelayMs: 20 });
    h.discord.userSays({ content: `is my key ${SECRET} leaked?`, mentionBot: true });
    const reply = await h.discord.waitFor(() => h!.discord.botMessages().find((x) => x.content.includes('I removed an API key')), 15_000, 'final answer');
    expect(JSON.stringify(h.openai.chatRequests[0]!.body)).not.toContain(SECRET);
    expect(h.openai.chatRequests[0]!.body.messages.at(-1).content).toContain('[API key removed]');
    expect(reply.history.length).toBeGreaterThan(0);
    for (const shown of [...reply.history, reply.content]) expect(crowdPing(shown), shown).toBe(false);
  });
});
