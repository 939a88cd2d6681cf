import { afterEach, describe, expect, it } from 'vitest';
import { REQUIRED_SCOPES, type SlackAdapter } from '../../../src/platforms/slack/adapter.js';
import { answersIn, eventually, startSlackWorld, type SlackWorld } from './harness.js';

const GENERAL = 'C0GENERAL1';

describe('Slack operations', () => {
  let w: SlackWorld | undefined;
  afterEach(async () => {
    await w?.stop();
    w = undefined;
  });

  it('reports the token in /readyz and posts announcements with no live mass mentions', async () => {
    w = await startSlackWorld();
    const ready = (await fetch(`http://127.0.0.1:${w.parley.port}/readyz`).then((r) => r.json())) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks.slack).toMatchObject({ ok: true });
    const slack = w.parley.adapters.find((a) => a.platform === 'slack')!;
    await slack.announce!(GENERAL, '⚠️ Parley alert <!channel> @here');
    const [posted] = await eventually(() => w!.slack.ws.botMessages(GENERAL).length > 0 && w!.slack.ws.botMessages(GENERAL), 5_000, 'announcement');
    expect(posted!.text).toMatch(/^⚠️ Parley alert/);
    expect(posted!.text).not.toMatch(/<!channel>|<!here>|(^|\s)@here\b/);
  });

  it('diagnoses the bot token, its scopes and the Socket Mode token for parley doctor', async () => {
    w = await startSlackWorld({ socketMode: true });
    const slack = w.parley.adapters.find((a) => a.platform === 'slack') as SlackAdapter;
    expect(await slack.diagnose()).toEqual([
      expect.objectContaining({ check: 'slack bot token', ok: true }),
      expect.objectContaining({ check: 'slack scopes', ok: true, detail: `all ${REQUIRED_SCOPES.length} granted` }),
      expect.objectContaining({ check: 'slack socket mode token', ok: true }),
    ]);
    w.slack.grantedScopes = w.slack.grantedScopes.filter((s) => s !== 'chat:write' && s !== 'commands');
    const [, scopes] = await slack.diagnose();
    expect(scopes).toMatchObject({ ok: false, detail: 'missing chat:write, commands', fix: expect.stringMatching(/reinstall/) });
  });

  it('/parley usage answers privately through response_url, nothing in the channel', async () => {
    w = await startSlackWorld();
    const world = w;
    const m = world.slack.userSays(GENERAL, 'U0ADA00001', `<@${world.slack.botUserId}> first question`);
    await world.slack.deliver(world.eventsUrl, world.slack.envelope(world.slack.messageEvent(m, 'app_mention')));
    await answersIn(world, GENERAL, m.ts, 'You asked: first question');
    const before = world.slack.ws.botMessages(GENERAL).length;
    // The ledger is written just after the answer is delivered: ask until it shows.
    let reply: { response_type?: string; text: string } | undefined;
    for (let attempt = 0; attempt < 5 && !/1 question/.test(reply?.text ?? ''); attempt++) {
      const payload = world.slack.commandPayload({ command: '/parley', text: 'usage', user: 'U0ADA00001', channel: GENERAL });
      await world.slack.sendCommand(world.eventsUrl, payload);
      reply = await eventually(() => world.slack.responsesFor(payload).at(-1)?.body, 10_000, 'the private usage report');
    }
    expect(reply!.response_type).toBe('ephemeral');
    expect(reply!.text).toMatch(/^Your usage:\n• Today: [\d,]+ tokens in 1 question/);
    expect(world.slack.ws.botMessages(GENERAL)).toHaveLength(before);
    expect(world.openai.chatRequests).toHaveLength(1);
  });
});
