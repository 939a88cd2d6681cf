import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { answersIn, eventually, startSlackWorld, type SlackWorld } from '../platforms/slack/harness.js';
import { until } from '../helpers/process.js';

/** `/parley stats` on Slack: admins only, answered privately through response_url. */
const ADMIN = 'U0ADA00001';
const OTHER = 'U0BOB00002';
const GENERAL = 'C0GENERAL1';
let w: SlackWorld | undefined;
let dir: string | undefined;
afterEach(async () => {
  await w?.stop();
  w = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('/parley stats on Slack', () => {
  it('gives an admin the figures privately and refuses anyone else', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-slack-stats-'));
    const file = join(dir, 'parley.config.yaml');
    writeFileSync(file, ['guardrails:', '  access:', `    admins: ["${ADMIN}"]`, 'profiles:', '  default: {}', ''].join('\n'));
    w = await startSlackWorld({ env: { PARLEY_CONFIG: file } });
    const world = w;
    const m = world.slack.userSays(GENERAL, OTHER, `<@${world.slack.botUserId}> first question`);
    await world.slack.deliver(world.eventsUrl, world.slack.envelope(world.slack.messageEvent(m, 'app_mention')));
    await answersIn(world, GENERAL, m.ts, 'You asked: first question');
    // The turn is recorded just after the answer shows.
    await until(
      async () => (await world.parley.support.analytics.buckets(Date.now() - 86_400_000, Date.now())).some((b) => b.questions === 1),
      20_000,
      'the question recorded',
    );

    const asAdmin = world.slack.commandPayload({ command: '/parley', text: 'stats', user: ADMIN, channel: GENERAL });
    await world.slack.sendCommand(world.eventsUrl, asAdmin);
    const report = await eventually(() => world.slack.responsesFor(asAdmin).at(-1)?.body, 20_000, 'the stats');
    expect(report.response_type).toBe('ephemeral');
    expect(report.text).toMatch(/^Support stats .*\nQuestions: 1 \(/);

    const asOther = world.slack.commandPayload({ command: '/parley', text: 'stats', user: OTHER, channel: GENERAL });
    await world.slack.sendCommand(world.eventsUrl, asOther);
    const refused = await eventually(() => world.slack.responsesFor(asOther).at(-1)?.body, 20_000, 'the refusal');
    expect(refused.text).not.toEqual(report.text);
    expect(refused.text).toMatch(/admin/i);
  });
});
