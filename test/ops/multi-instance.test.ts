import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { FakeSlack } from '../fakes/slack/fake-slack.js';
import { spawnParley, until } from '../helpers/process.js';
import { redisDbUrl } from '../helpers/redis.js';

/**
 * Two real `parley start` processes on one Redis, behind the fake Slack in HTTP mode, as
 * replicas behind a load balancer would run.
 */
// A Redis database of its own: the processes use the default key prefix.
const REDIS_DB_URL = redisDbUrl(7);
const GENERAL = 'C0GENERAL1';
const dir = mkdtempSync(join(tmpdir(), 'parley-multi-'));
let openai: FakeOpenAI;
let slack: FakeSlack;
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startInstance(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawnParley(
    ['start'],
    {
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: 'k',
      OPENAI_MODEL: 'fake-model',
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: slack.apiUrl,
      STORE_URL: REDIS_DB_URL,
      PORT: String(port),
      LOG_LEVEL: 'silent',
    },
    dir,
  );
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 45_000, `instance on ${port} started`);
  return { child, url: `${base}/slack/events` };
}

beforeAll(async () => {
  const redis = new Redis(REDIS_DB_URL);
  await redis.flushdb();
  await redis.quit();
  [openai, slack] = await Promise.all([FakeOpenAI.start(), FakeSlack.start()]);
  slack.ws.channels.set(GENERAL, { id: GENERAL, name: 'general' });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([openai.close(), slack.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('two instances on one Redis', () => {
  it('answer an event delivered to both exactly once, and finish a reply cut by SIGKILL while the other keeps answering', async () => {
    const [a, b] = [await startInstance(), await startInstance()];

    // The same event (same event_id) reaches both replicas at once.
    const q1 = slack.userSays(GENERAL, 'U0ADA00001', `<@${slack.botUserId}> hello both`);
    const envelope = slack.envelope(slack.messageEvent(q1, 'app_mention'));
    await Promise.all([slack.deliver(a.url, envelope), slack.deliver(b.url, envelope)]);
    await until(() => slack.ws.botMessages(GENERAL, q1.ts).find((m) => m.text === 'You asked: hello both' && !m.streaming), 30_000, 'the answer');
    await new Promise((r) => setTimeout(r, 1_000)); // room for a duplicate to show up, if there were one
    expect(openai.chatRequests.filter((r) => JSON.stringify(r.body.messages).includes('hello both'))).toHaveLength(1);
    expect(slack.ws.botMessages(GENERAL, q1.ts)).toHaveLength(1);

    // A long answer on A; A is killed mid-reply.
    openai.script({ chunks: Array.from({ length: 1000 }, (_, i) => `word${i} `), chunkDelayMs: 20 });
    const q2 = slack.userSays(GENERAL, 'U0ADA00001', `<@${slack.botUserId}> tell me everything`);
    await slack.deliver(a.url, slack.envelope(slack.messageEvent(q2, 'app_mention')));
    await until(() => slack.ws.botMessages(GENERAL, q2.ts)[0]?.text.includes('word150'), 45_000, 'the partial answer');
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('exit', r));

    // B keeps answering.
    const q3 = slack.userSays(GENERAL, 'U0BOB00002', `<@${slack.botUserId}> still there?`);
    await slack.deliver(b.url, slack.envelope(slack.messageEvent(q3, 'app_mention')));
    await until(() => slack.ws.botMessages(GENERAL, q3.ts).find((m) => m.text === 'You asked: still there?' && !m.streaming), 30_000, 'B answering');

    // A restarts and finishes its interrupted reply in place.
    await startInstance();
    const finished = await until(
      () => slack.ws.botMessages(GENERAL, q2.ts).find((m) => m.text.includes('Interrupted')),
      60_000,
      'the interrupted reply finished',
    );
    expect(finished.text.startsWith('word0 word1 ')).toBe(true);
    expect(finished.text).toMatch(/Interrupted: Parley restarted while writing this answer\. Please ask again\._?$/);
    expect(finished.text).not.toContain('word999');
    expect(slack.ws.botMessages(GENERAL, q2.ts)).toHaveLength(1);
  }, 240_000);
});
