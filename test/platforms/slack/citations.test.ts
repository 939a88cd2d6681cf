import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startSlackWorld, type SlackWorld } from './harness.js';

const GENERAL = 'C0GENERAL1';
const KNOWLEDGE = resolve(import.meta.dirname, '../../../examples/knowledge');

describe('Slack citations', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.stop();
    w = undefined;
  });

  it('an answer from the knowledge base ends with a native Sources footer, in the same final message', async () => {
    w = await startSlackWorld({ env: { KNOWLEDGE_DIR: KNOWLEDGE } });
    const world = w;
    const m = world.slack.userSays(GENERAL, 'U0ADA00001', `<@${world.slack.botUserId}> What is your refund policy?`);
    await world.slack.deliver(world.eventsUrl, world.slack.envelope(world.slack.messageEvent(m, 'app_mention')));
    const [answer] = await eventually(
      () => {
        const mine = world.slack.ws.botMessages(GENERAL, m.ts).filter((x) => !x.streaming && x.text.includes('Sources'));
        return mine.length ? mine : undefined;
      },
      15_000,
      'the cited answer',
    );
    // The FAQ answered (no model call), and the footer is Slack mrkdwn: a bold title and the source.
    expect(world.openai.chatRequests).toHaveLength(0);
    expect(answer!.text).toMatch(/Monthly plans can be refunded within 14 days/);
    expect(answer!.text).toMatch(/\n\n\*Sources\*\n1\. Refund policy.*refunds\.md/);
  });
});
