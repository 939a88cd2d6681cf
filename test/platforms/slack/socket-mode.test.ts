import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { answersIn, eventually, quiet, startSlackWorld, type SlackWorld } from './harness.js';

const ADA = 'U0ADA00001';
const GENERAL = 'C0GENERAL1';
const SLASH_COMMAND_ACK_MS = 3_000;

describe('Slack in Socket Mode (SLACK_APP_TOKEN set), through the real Bolt app', () => {
  let w: SlackWorld;
  beforeEach(async () => {
    w = await startSlackWorld({ socketMode: true });
    await w.slack.socketConnected();
  });
  afterEach(async () => {
    await w.stop();
  });

  it('connects with the app token and answers a mention once, even when Slack redelivers the envelope', async () => {
    expect(w.slack.callsTo('apps.connections.open').filter((c) => c.ok)).toHaveLength(1);
    w.openai.script({ text: 'Over the socket.', firstTokenDelayMs: 100 });
    const m = w.slack.userSays(GENERAL, ADA, `<@${w.slack.botUserId}> socket question`);
    const envelope = w.slack.envelope(w.slack.messageEvent(m, 'app_mention'));
    await w.slack.sendSocket('events_api', envelope);
    await w.slack.sendSocket('events_api', envelope, { retryAttempt: 1 });
    await answersIn(w, GENERAL, m.ts, 'Over the socket.');
    await quiet();
    expect(w.openai.chatRequests).toHaveLength(1);
    // Nothing listens for HTTP events in Socket Mode.
    const http = await w.slack.deliver(w.eventsUrl, envelope);
    expect(http.status).toBe(404);
  });

  it('acknowledges /ask within 3 s and answers in the echo thread', async () => {
    w.openai.script({ text: 'Socket answer.', firstTokenDelayMs: 500 });
    const payload = w.slack.commandPayload({ text: 'via socket?', user: ADA, channel: GENERAL });
    const { ms } = await w.slack.sendSocket('slash_commands', payload);
    expect(ms).toBeLessThan(SLASH_COMMAND_ACK_MS);
    const echo = await eventually(() => w.slack.ws.botMessages(GENERAL).find((x) => !x.thread_ts), 5_000, 'the echo');
    await answersIn(w, GENERAL, echo.ts, 'Socket answer.');
  });
});
