import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/kernel/logger.js';
import { REDIS_URL } from '../../helpers/redis.js';
import { answersIn, eventually, startSlackWorld, type SlackWorld } from './harness.js';

const GENERAL = 'C0GENERAL1';

describe('Slack options from the environment', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.stop();
    w = undefined;
  });

  it('SLACK_ALLOW_BOTS=true answers another bot’s mention (never its own)', async () => {
    w = await startSlackWorld({ env: { SLACK_ALLOW_BOTS: 'true' } });
    const m = w.slack.userSays(GENERAL, 'U0OTHERBOT', `<@${w.slack.botUserId}> status?`);
    await w.slack.deliver(w.eventsUrl, w.slack.envelope(w.slack.messageEvent(m, 'app_mention', { bot_id: 'B0OTHER' })));
    await answersIn(w, GENERAL, m.ts, 'You asked: status?');
  });

  it('SLACK_ASK_PRIVATE=true answers every /ask privately through response_url', async () => {
    w = await startSlackWorld({ env: { SLACK_ASK_PRIVATE: 'true' } });
    const world = w;
    const payload = world.slack.commandPayload({ text: 'secret question', user: 'U0ADA00001', channel: GENERAL });
    await world.slack.sendCommand(world.eventsUrl, payload);
    await eventually(() => world.slack.responsesFor(payload).at(-1)?.body.text === 'You asked: secret question', 10_000, 'the private answer');
    expect(world.slack.ws.botMessages(GENERAL)).toHaveLength(0);
  });
});

describe('two Parley instances sharing Redis', () => {
  it('answer an event delivered to both (a retry landing on another instance) exactly once', async () => {
    const env = { STORE_URL: REDIS_URL };
    const a = await startSlackWorld({ env });
    const b = await startSlackWorld({ env, sharing: a });
    try {
      a.openai.script({ text: 'Answered by one instance.', firstTokenDelayMs: 100 });
      const m = a.slack.userSays(GENERAL, 'U0ADA00001', `<@${a.slack.botUserId}> who answers?`);
      const envelope = a.slack.envelope(a.slack.messageEvent(m, 'app_mention'));
      await Promise.all([a.slack.deliver(a.eventsUrl, envelope), a.slack.deliver(b.eventsUrl, envelope, { retryNum: 1 })]);
      await answersIn(a, GENERAL, m.ts, 'Answered by one instance.');
      await new Promise((r) => setTimeout(r, 300));
      expect(a.openai.chatRequests).toHaveLength(1);
      expect(a.slack.ws.botMessages(GENERAL, m.ts)).toHaveLength(1);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});

describe('logging', () => {
  it('never writes tokens or message text to the log, even at trace level', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'trace', content: false, destination: { write: (s: string) => void lines.push(s) } });
    const world = await startSlackWorld({ log });
    try {
      world.slack.stream.mode = 'refuse'; // exercise the fallback path's logging too
      const m = world.slack.userSays(GENERAL, 'U0ADA00001', `<@${world.slack.botUserId}> zebra-quokka-secret`);
      await world.slack.deliver(world.eventsUrl, world.slack.envelope(world.slack.messageEvent(m, 'app_mention')));
      await answersIn(world, GENERAL, m.ts, 'You asked: zebra-quokka-secret');
      const payload = world.slack.commandPayload({ text: 'private walrus-question', user: 'U0ADA00001', channel: GENERAL });
      await world.slack.sendCommand(world.eventsUrl, payload);
      await eventually(() => world.slack.responsesFor(payload).at(-1)?.body.text === 'You asked: walrus-question', 10_000, 'the private answer');
    } finally {
      await world.stop();
    }
    const all = lines.join('');
    expect(lines.length).toBeGreaterThan(0);
    expect(all).not.toContain('zebra-quokka');
    expect(all).not.toContain('walrus-question');
    expect(all).not.toContain('xoxb-fake-bot-token');
    expect(all).not.toContain('fake-signing-secret');
  });
});
