import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { FakeSlack } from '../fakes/slack/fake-slack.js';
import { CLI, freshCloneDir, until } from '../helpers/process.js';

/**
 * `parley start` as production runs it, from a directory that holds the bundled example docs
 * (a fresh clone, or an image that copied them): with Slack and a model configured and no
 * knowledge, a real user's question must reach the model, not the fictional product's FAQ.
 */
const GENERAL = 'C0GENERAL1';
const cwd = freshCloneDir('start-no-kb');
let openai: FakeOpenAI;
let slack: FakeSlack;
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  [openai, slack] = await Promise.all([FakeOpenAI.start(), FakeSlack.start()]);
  slack.ws.channels.set(GENERAL, { id: GENERAL, name: 'general' });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await Promise.all([openai.close(), slack.close()]);
  rmSync(cwd, { recursive: true, force: true });
});

describe('parley start with no knowledge configured', { timeout: 60_000 }, () => {
  it('logs one line saying so and sends "How do I reset my password?" to the model', async () => {
    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      ...openai.env(),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: slack.apiUrl,
      STORE_URL: 'memory://',
      PORT: String(port),
      LOG_LEVEL: 'info',
    };
    child = spawn(process.execPath, [CLI, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    child.stderr!.on('data', (d) => (logs += d));
    await until(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 45_000, 'parley started');

    const q = slack.userSays(GENERAL, 'U0ADA00001', `<@${slack.botUserId}> How do I reset my password?`);
    await slack.deliver(`http://127.0.0.1:${port}/slack/events`, slack.envelope(slack.messageEvent(q, 'app_mention')));
    await until(() => slack.ws.botMessages(GENERAL, q.ts).find((m) => !m.streaming && m.text.includes('reset my password')), 30_000, 'the answer');

    const asked = openai.chatRequests.filter((r) => JSON.stringify(r.body.messages).includes('reset my password'));
    expect(asked).toHaveLength(1);
    // Nothing of the example product reached the prompt (no passages, no Tallyho FAQ).
    expect(JSON.stringify(asked[0]!.body.messages)).not.toMatch(/tallyho|examples\/knowledge/i);
    expect(logs.match(/no knowledge configured/g)).toHaveLength(1);
  });
});
