import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startSlackWorld, type SlackWorld } from './harness.js';

const ADA = 'U0ADA00001';
const GENERAL = 'C0GENERAL1';

describe('Slack: an answer cut at the length limit', () => {
  let w: SlackWorld;
  beforeEach(async () => {
    w = await startSlackWorld();
  });
  afterEach(async () => {
    await w.stop();
  });

  it('ends with a note that it was cut and how to get the rest (finish_reason "length")', async () => {
    w.openai.script({ text: 'The first steps are to open the settings and', finishReason: 'length' });
    const m = w.slack.userSays(GENERAL, ADA, `<@${w.slack.botUserId}> explain the whole setup`);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention')));
    const reply = await eventually(
      () => w.slack.ws.botMessages(GENERAL, m.ts).find((x) => !x.streaming && x.text.includes('length limit')),
      15_000,
      'the cut answer',
    );
    expect(reply.text.startsWith('The first steps are to open the settings and')).toBe(true);
    expect(reply.text).toMatch(/The answer was cut at the length limit\. Ask me to continue/);
  });
});
