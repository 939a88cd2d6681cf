import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/platforms/http-api/keys.js';
import { openStore } from '../../src/store/store.js';
import { FakeDiscord } from '../fakes/discord/index.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { FakeSlack } from '../fakes/slack/fake-slack.js';
import { spawnParley, until } from '../helpers/process.js';
import { redisDbUrl } from '../helpers/redis.js';

/**
 * Real `parley start` processes killed with SIGKILL while HTTP API tasks, a Slack reply and a
 * Discord reply are being written, then recovered on the same store. Every recovery surface
 * must honour the reply contract: a surface that ignores its text once made the recovery spin
 * at 100 % CPU, so `/healthz` stopped answering on every instance sharing the store.
 */
const API_KEY = 'pk_crash_0123456789abcdef';
const GENERAL = 'C0GENERAL1';
const dir = mkdtempSync(join(tmpdir(), 'parley-crash-tasks-'));
let openai: FakeOpenAI;
let slack: FakeSlack;
let discord: FakeDiscord;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [openai, slack, discord] = await Promise.all([FakeOpenAI.start(), FakeSlack.start(), FakeDiscord.start()]);
  slack.ws.channels.set(GENERAL, { id: GENERAL, name: 'general' });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([openai.close(), slack.close(), discord.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Instance {
  child: ChildProcess;
  base: string;
}

async function startInstance(storeUrl: string, o: { discord: boolean }): Promise<Instance> {
  const port = await freePort();
  const child = spawnParley(
    ['start'],
    {
      ...openai.env(),
      ...(o.discord ? discord.env() : {}),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: slack.apiUrl,
      API_KEYS: `crash:${hashApiKey(API_KEY)}`,
      STORE_URL: storeUrl,
      PORT: String(port),
      LOG_LEVEL: 'silent',
    },
    dir,
  );
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 45_000, `instance on ${port} started`);
  return { child, base };
}

async function kill(i: Instance): Promise<void> {
  i.child.kill('SIGKILL');
  await new Promise((r) => i.child.once('exit', r));
}

const longAnswer = () => ({ chunks: Array.from({ length: 1500 }, (_, i) => `word${i} `), chunkDelayMs: 20 });

async function submitTask(base: string, question: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ question }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

async function task(base: string, id: string): Promise<{ status: string; error?: { code: string; message: string } }> {
  const res = await fetch(`${base}/api/v1/tasks/${id}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return (await res.json()) as { status: string; error?: { code: string; message: string } };
}

/** Polls `/healthz` on every instance every 250 ms; `misses()` counts answers that did not come within 2 s. */
function watchHealth(instances: Instance[]): { stop: () => void; misses: () => number; checks: () => number } {
  let misses = 0;
  let checks = 0;
  let on = true;
  void (async () => {
    while (on) {
      for (const i of instances) {
        const ok = await fetch(`${i.base}/healthz`, { signal: AbortSignal.timeout(2_000) })
          .then((r) => r.status === 200)
          .catch(() => false);
        checks++;
        if (!ok && on) misses++;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return { stop: () => (on = false), misses: () => misses, checks: () => checks };
}

/** Replies recorded as in flight in the store (what crash recovery still has to finish). */
async function inflightRecords(storeUrl: string): Promise<number> {
  const store = await openStore(storeUrl);
  try {
    let n = 0;
    for await (const _ of store.entries('inflight')) n++;
    return n;
  } finally {
    await store.close();
  }
}

async function putRepliesInFlight(i: Instance, o: { discord: boolean }): Promise<{ tasks: string[]; slackTs: string }> {
  openai.script(longAnswer(), longAnswer(), longAnswer(), longAnswer(), ...(o.discord ? [longAnswer()] : []));
  const tasks = [await submitTask(i.base, 'first slow task'), await submitTask(i.base, 'second slow task'), await submitTask(i.base, 'third slow task')];
  const q = slack.userSays(GENERAL, 'U0ADA00001', `<@${slack.botUserId}> tell me everything`);
  await slack.deliver(`${i.base}/slack/events`, slack.envelope(slack.messageEvent(q, 'app_mention')));
  if (o.discord) discord.userSays({ content: 'tell me everything', mentionBot: true });
  await until(async () => (await Promise.all(tasks.map((t) => task(i.base, t)))).every((t) => t.status === 'running'), 30_000, 'tasks running');
  await until(() => slack.ws.botMessages(GENERAL, q.ts)[0]?.text.includes('word150'), 45_000, 'the partial Slack answer');
  if (o.discord) await until(() => discord.botMessages()[0]?.content.includes('word150'), 45_000, 'the partial Discord answer');
  // Checkpoints are written at most every second: let the newest one land.
  await new Promise((r) => setTimeout(r, 1_500));
  return { tasks, slackTs: q.ts };
}

async function expectAllFinished(base: string, tasks: string[], slackTs: string, o: { discord: boolean }): Promise<void> {
  for (const id of tasks) {
    const t = await until(
      async () => {
        const t = await task(base, id);
        return t.status !== 'running' && t.status !== 'pending' && t;
      },
      90_000,
      `task ${id} ended`,
    );
    expect(t.status).toBe('failed');
    expect(t.error?.code).toBe('interrupted');
    // Its partial text and the note, as the other replies show.
    expect(t.error?.message).toMatch(/^word0 word1 [\s\S]*Interrupted: Parley restarted/);
  }
  const finished = await until(() => slack.ws.botMessages(GENERAL, slackTs).find((m) => m.text.includes('Interrupted')), 90_000, 'the Slack reply finished');
  expect(finished.text.startsWith('word0 word1 ')).toBe(true);
  if (o.discord) {
    const all = await until(
      () => discord.botMessages().some((m) => m.content.includes('Interrupted')) && discord.botMessages(),
      90_000,
      'the Discord reply finished',
    );
    expect(all.map((m) => m.content).join('\n')).toMatch(/^word0 word1 [\s\S]*Interrupted: Parley restarted while writing this answer\. Please ask again\._$/);
  }
}

describe('a crash with HTTP API tasks, Slack and Discord replies in flight', () => {
  it('on sqlite: the restarted process finishes every reply, ends every task failed/interrupted, and keeps answering', async () => {
    const storeUrl = `sqlite://${join(dir, 'crash.sqlite')}`;
    const first = await startInstance(storeUrl, { discord: true });
    await discord.waitFor(() => discord.commandList(discord.guildId).some((c) => c.name === 'ask'), 45_000, 'Discord ready');
    const { tasks, slackTs } = await putRepliesInFlight(first, { discord: true });
    await kill(first);
    expect(await inflightRecords(storeUrl)).toBe(5);

    const second = await startInstance(storeUrl, { discord: true });
    const health = watchHealth([second]);
    try {
      await expectAllFinished(second.base, tasks, slackTs, { discord: true });
      await until(async () => (await inflightRecords(storeUrl)) === 0, 10_000, 'every in-flight record removed');
      // Still answering questions after the recovery.
      openai.script('Back to normal.');
      const q = slack.userSays(GENERAL, 'U0ADA00001', `<@${slack.botUserId}> still there?`);
      await slack.deliver(`${second.base}/slack/events`, slack.envelope(slack.messageEvent(q, 'app_mention')));
      await until(() => slack.ws.botMessages(GENERAL, q.ts).find((m) => m.text === 'Back to normal.' && !m.streaming), 30_000, 'a new answer');
      // A quick recovery still gets watched over a span where the old loop would have hung the process.
      await until(() => health.checks() > 10, 30_000, 'enough /healthz checks');
    } finally {
      health.stop();
    }
    expect(health.checks()).toBeGreaterThan(10);
    expect(health.misses()).toBe(0);
    await kill(second);
  }, 240_000);

  it("on Redis with two instances: both keep answering /healthz while the dead one's replies are finished", async () => {
    const storeUrl = redisDbUrl(9);
    const a = await startInstance(storeUrl, { discord: false });
    const b = await startInstance(storeUrl, { discord: false });
    const { tasks, slackTs } = await putRepliesInFlight(a, { discord: false });
    await kill(a);
    expect(await inflightRecords(storeUrl)).toBe(4);

    // A restarts; B (healthy all along) and A' share the recovery of A's replies.
    const a2 = await startInstance(storeUrl, { discord: false });
    const health = watchHealth([a2, b]);
    try {
      await expectAllFinished(b.base, tasks, slackTs, { discord: false });
      await until(async () => (await inflightRecords(storeUrl)) === 0, 10_000, 'every in-flight record removed');
      await until(() => health.checks() > 10, 30_000, 'enough /healthz checks');
    } finally {
      health.stop();
    }
    expect(health.checks()).toBeGreaterThan(10);
    expect(health.misses()).toBe(0);
  }, 240_000);
});
