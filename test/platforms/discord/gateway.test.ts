import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/kernel/logger.js';
import { startHarness, type Harness } from './harness.js';
import { MESSAGE_CONTENT_INTENT } from '../../fakes/discord/index.js';

/** The gateway connection: resuming after a drop, and running without the privileged intent. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function capturedLog(level = 'warn') {
  const lines: any[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger({ level, content: false, destination }) };
}

describe('Discord gateway', () => {
  it('resumes after the connection drops, replays what it missed and keeps answering', async () => {
    h = await startHarness({ env: { DISCORD_REPLY_MODE: 'reply' } }); // asks right after an answer: a still-busy channel would open a thread
    const d = h.discord;
    d.userSays({ content: 'before the drop', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: before the drop'), 10_000, 'first answer');

    d.gateway.dropConnection();
    // Sent while the bot is disconnected: Discord replays it on RESUME.
    d.userSays({ content: 'during the drop', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: during the drop'), 15_000, 'answer to the missed message');
    d.userSays({ content: 'after the drop', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: after the drop'), 10_000, 'answer after resuming');

    expect(d.gateway.resumes).toHaveLength(1);
    expect(d.gateway.resumes[0]!.replayed).toBeGreaterThanOrEqual(1);
    // Resumed, not re-identified: the session (and its sequence) carried over.
    expect(d.gateway.identifies).toHaveLength(1);
    expect(h.openai.chatRequests).toHaveLength(3);
  });

  it('without the Message Content intent (close 4014) warns clearly, reconnects without it, and still answers mentions and DMs', async () => {
    const { lines, log } = capturedLog();
    h = await startHarness({ log, beforeStart: (d) => (d.grantedIntents &= ~MESSAGE_CONTENT_INTENT) });
    const d = h.discord;
    expect(d.gateway.identifies).toHaveLength(2);
    expect(d.gateway.identifies[0]!.intents & MESSAGE_CONTENT_INTENT).toBe(MESSAGE_CONTENT_INTENT);
    expect(d.gateway.identifies[1]!.intents & MESSAGE_CONTENT_INTENT).toBe(0);
    const warning = lines.find((l) => l.level === 40 && /Message Content intent/.test(l.msg));
    expect(warning?.msg).toMatch(/Privileged Gateway Intents/);

    d.userSays({ content: 'mention still works', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: mention still works'), 10_000, 'mention answer');
    d.userSays({ content: 'DMs too', channelId: d.dmChannelId });
    await d.waitFor(() => d.botMessages(d.dmChannelId).find((m) => m.content === 'You asked: DMs too'), 10_000, 'DM answer');
  });

  it('logs the invite URL with exactly the permissions it needs, and never the token', async () => {
    const { lines, log } = capturedLog('info');
    h = await startHarness({ log });
    const ready = lines.find((l) => typeof l.inviteUrl === 'string');
    const url = new URL(ready.inviteUrl);
    expect(url.searchParams.get('client_id')).toBe(h.discord.applicationId);
    expect(url.searchParams.get('scope')).toBe('bot applications.commands');
    // ViewChannel | SendMessages | ReadMessageHistory | SendMessagesInThreads | CreatePublicThreads (auto mode: a thread when a channel is busy).
    expect(BigInt(url.searchParams.get('permissions')!)).toBe((1n << 10n) | (1n << 11n) | (1n << 16n) | (1n << 38n) | (1n << 35n));
    expect(JSON.stringify(lines)).not.toContain(h.discord.token);
  });

  it('when the intent is revoked while running (close 4014), reconnects without it and keeps answering', async () => {
    const { lines, log } = capturedLog();
    h = await startHarness({ log });
    const d = h.discord;
    d.grantedIntents &= ~MESSAGE_CONTENT_INTENT;
    d.gateway.closeWith(4014, 'Disallowed intent(s).');
    await d.waitFor(() => d.gateway.identifies.length === 2 && d.gateway.connected, 10_000, 'a new session');
    expect(d.gateway.identifies[1]!.intents & MESSAGE_CONTENT_INTENT).toBe(0);
    expect(lines.some((l) => l.level === 40 && /Message Content intent/.test(l.msg))).toBe(true);
    d.userSays({ content: 'still there?', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: still there?'), 10_000, 'answer after reconnecting');
  });

  it('heartbeats, and resumes when heartbeats stop being acknowledged (a zombie connection)', async () => {
    h = await startHarness({ beforeStart: (d) => (d.gateway.heartbeatIntervalMs = 150) });
    const d = h.discord;
    await d.waitFor(() => d.gateway.heartbeats >= 3, 10_000, 'heartbeats');
    expect(d.gateway.resumes).toHaveLength(0);

    d.gateway.ackHeartbeats = false;
    await d.waitFor(() => d.gateway.resumes.length >= 1, 10_000, 'a resume');
    d.gateway.ackHeartbeats = true;
    expect(d.gateway.identifies).toHaveLength(1);
    d.userSays({ content: 'alive?', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => m.content === 'You asked: alive?'), 10_000, 'answer after the resume');
  });
});
