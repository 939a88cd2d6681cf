import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELETED_QUESTION } from '../../src/analytics/support-analytics.js';
import type { AnswerRecord } from '../../src/analytics/answers.js';
import { hashApiKey } from '../../src/platforms/http-api/keys.js';
import { redisDbUrl } from '../helpers/redis.js';
import { runParley, until } from '../helpers/process.js';
import { eventually, startSlackWorld, type SlackWorld } from '../platforms/slack/harness.js';

/**
 * Issue 18: a string planted through the real flows (HTTP API asks, tasks and a 👎 with a comment
 * that puts the answer in the review queue; Slack's /ask) leaves no trace in the whole store
 * after each deletion path: the raw sqlite files (database and journals) byte for byte, and every
 * Redis key and value, read with a Redis client of its own.
 */

const KEY = 'pk_forget_0123456789abcdef';
const OTHER = 'pk_forget_other_0123456789';
const API_KEYS = `widget:${hashApiKey(KEY)},other:${hashApiKey(OTHER)}`;
const ADA = 'U0ADA00001';
const GENERAL = 'C0GENERAL1';
const KNOWLEDGE = resolve(import.meta.dirname, '../../examples/knowledge');
/** Namespaces the planted questions must reach before a deletion, or the test proves nothing. */
const PLANTED_IN = ['history', 'answers', 'votes', 'api-tasks', 'analytics', 'review', 'answer-cache', 'query-rewrites'];

const plant = (label: string) => `zq${label}${randomBytes(6).toString('hex')}`;

describe.each([
  { name: 'sqlite', redisDb: undefined },
  { name: 'redis', redisDb: 12 },
])('deletion leaves no trace on $name', ({ redisDb }) => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-forget-'));
  const file = join(dir, 'parley.sqlite');
  const storeUrl = redisDb === undefined ? `sqlite://${file}` : redisDbUrl(redisDb);
  let w: SlackWorld;
  let redis: Redis | undefined;

  beforeAll(async () => {
    if (redisDb !== undefined) {
      redis = new Redis(storeUrl);
      await redis.flushdb();
    }
    w = await startSlackWorld({ env: { STORE_URL: storeUrl, API_KEYS, KNOWLEDGE_DIR: KNOWLEDGE } });
  });
  afterAll(async () => {
    await w?.stop();
    await redis?.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether `needle` is anywhere in the store: every byte of the sqlite files, or every Redis key and value. */
  async function inStore(needle: string): Promise<boolean> {
    if (!redis) {
      const files = ['', '-wal', '-journal', '-shm'].map((s) => file + s).filter(existsSync);
      return files.some((f) => readFileSync(f).includes(needle));
    }
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        if (key.includes(needle)) return true;
        const type = await redis.type(key);
        const values =
          type === 'string'
            ? [(await redis.get(key)) ?? '']
            : type === 'zset'
              ? await redis.zrange(key, 0, -1)
              : type === 'hash'
                ? Object.entries(await redis.hgetall(key)).flat()
                : type === 'set'
                  ? await redis.smembers(key)
                  : type === 'list'
                    ? await redis.lrange(key, 0, -1)
                    : [`unread type ${type}`];
        if (values.some((v) => v.includes(needle))) return true;
      }
    } while (cursor !== '0');
    return false;
  }

  /** The namespaces holding `needle`, read through the store (so the raw check cannot pass for a reason like encoding). */
  async function namespacesWith(needle: string): Promise<string[]> {
    const found: string[] = [];
    for (const ns of [...PLANTED_IN, 'ledger']) {
      for await (const [key, value] of w.parley.store.entries(ns)) {
        if (`${key}${JSON.stringify(value)}`.includes(needle)) {
          found.push(ns);
          break;
        }
      }
    }
    return found;
  }

  async function api(method: string, path: string, body?: unknown, key = KEY) {
    const res = await fetch(`http://127.0.0.1:${w.parley.port}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as any };
  }

  /** Questions and a task from `user` (each with `token`), then a 👎 with a comment naming it: the answer goes to the review queue. */
  async function plantThroughApi(token: string, user: string): Promise<string> {
    const first = await api('POST', '/ask', { question: `My name is Zed Quimby, ${token} zebra quantum?`, user });
    expect(first.status).toBe(200);
    const conversationId = first.json.conversationId as string;
    expect((await api('POST', '/ask', { question: `Still ${token}, any news?`, conversationId, user })).status).toBe(200);
    const task = await api('POST', '/tasks', { question: `A task about ${token} walrus`, conversationId, user });
    expect(task.status).toBe(202);
    await until(async () => (await api('GET', `/tasks/${task.json.id}`)).json.status === 'completed', 10_000, 'the task');
    await downVote('api', user, (a) => a.conversation.endsWith(`:${conversationId}`), `Wrong, and ${token} is my code`);
    return conversationId;
  }

  async function downVote(platform: string, user: string, which: (a: AnswerRecord) => boolean, reason: string): Promise<void> {
    let answerId: string | undefined;
    for await (const [, a] of w.parley.store.entries<AnswerRecord>('answers')) if (a.platform === platform && which(a)) answerId = a.answerId;
    expect(answerId).toBeDefined();
    await w.parley.support.desk.feedback({ platform: platform as 'api', answerId: answerId!, kind: 'down', reason, user: { id: user }, at: Date.now() });
    await w.parley.support.desk.idle();
  }

  it('HTTP API: DELETE /users/{user} removes every trace of what the end user wrote through this key, and keeps the counts', async () => {
    const token = plant('user');
    const keep = plant('keep');
    await plantThroughApi(token, 'u-forget-me');
    expect((await api('POST', '/ask', { question: `Unrelated ${keep} question`, user: 'u-stays' })).status).toBe(200);
    await w.parley.support.desk.idle();
    expect(await namespacesWith(token)).toEqual(expect.arrayContaining(PLANTED_IN));
    expect(await inStore(token)).toBe(true);
    const day = Date.now();
    const before = await w.parley.support.analytics.buckets(day, day);

    // Another key's DELETE touches nothing of this key's end user.
    const foreign = await api('DELETE', '/users/u-forget-me', undefined, OTHER);
    expect(foreign.status).toBe(200);
    expect(foreign.json.deleted).toMatchObject({ conversations: 0, records: 0, questionTexts: 0, usageRows: 0 });
    expect(await inStore(token)).toBe(true);

    const res = await api('DELETE', '/users/u-forget-me');
    expect(res.status).toBe(200);
    // Three answers, each after a query rewrite (the planted questions match no page closely): six model calls.
    expect(res.json.deleted).toMatchObject({ conversations: 1, usageRows: 6 });
    // The 👎 queued one answer; a weak (low-groundedness) answer may have been queued too.
    expect(res.json.deleted.reviewItems).toBeGreaterThanOrEqual(1);
    expect(res.json.deleted.records).toBeGreaterThanOrEqual(5);
    expect(res.json.deleted.questionTexts).toBe(3);
    await w.parley.support.desk.idle();

    expect(await namespacesWith(token)).toEqual([]);
    expect(await inStore(token)).toBe(false);
    expect(await inStore('Zed Quimby')).toBe(false);
    expect(await inStore(keep)).toBe(true);
    // Identity-free counts stay: the day's questions, and the question list's entries without their text.
    const after = await w.parley.support.analytics.buckets(day, day);
    expect(after.reduce((n, b) => n + b.questions, 0)).toBe(before.reduce((n, b) => n + b.questions, 0));
    const top = await w.parley.support.analytics.topQuestions(day, day);
    expect(top.filter((t) => t.question === DELETED_QUESTION).reduce((n, t) => n + t.asked, 0)).toBeGreaterThanOrEqual(3);
    // Idempotent.
    expect((await api('DELETE', '/users/u-forget-me')).json.deleted).toMatchObject({ conversations: 0, records: 0, questionTexts: 0 });
  });

  it('HTTP API: DELETE /conversations/{id} removes the conversation and everything written in it, nothing else', async () => {
    const token = plant('conv');
    const keep = plant('keepconv');
    const conversationId = await plantThroughApi(token, 'u-conv');
    expect((await api('POST', '/ask', { question: `Another thread ${keep}`, user: 'u-conv' })).status).toBe(200);
    await w.parley.support.desk.idle();
    expect(await inStore(token)).toBe(true);

    expect((await api('DELETE', '/conversations/not-an-id')).status).toBe(400);
    const res = await api('DELETE', `/conversations/${conversationId}`);
    expect(res.status).toBe(200);
    expect(res.json.deleted).toMatchObject({ conversations: 1, questionTexts: 3 });
    expect(res.json.deleted.reviewItems).toBeGreaterThanOrEqual(1);
    await w.parley.support.desk.idle();
    expect(await namespacesWith(token)).toEqual([]);
    expect(await inStore(token)).toBe(false);
    // The user's other thread stays.
    expect(await inStore(keep)).toBe(true);
  });

  it('Slack: /parley forget removes every trace of what the person asked', async () => {
    const token = plant('slack');
    const ask = w.slack.commandPayload({ text: `Ada Lovelace here, ${token} zebra?`, user: ADA, channel: GENERAL });
    expect((await w.slack.sendCommand(w.eventsUrl, ask)).status).toBe(200);
    await until(async () => (await namespacesWith(token)).includes('analytics'), 10_000, 'the Slack answer on record');
    await w.parley.support.desk.idle();
    await downVote('slack', ADA, (a) => a.asker.id === ADA, `Not helpful ${token}`);
    expect(await namespacesWith(token)).toEqual(
      expect.arrayContaining(['history', 'answers', 'votes', 'analytics', 'review', 'answer-cache', 'query-rewrites']),
    );
    expect(await inStore(token)).toBe(true);

    const forget = w.slack.commandPayload({ command: '/parley', text: 'forget', user: ADA, channel: GENERAL });
    expect((await w.slack.sendCommand(w.eventsUrl, forget)).status).toBe(200);
    const reply = await eventually(() => w.slack.responsesFor(forget).find((r) => /^Done:/.test(r.body.text ?? '')), 10_000, 'the /parley forget reply');
    // The answer and the query rewrite before it.
    expect(reply.body.text).toMatch(/from 1 conversation, 1 answer queued for review and 2 usage records\./);
    await w.parley.support.desk.idle();
    expect(await namespacesWith(token)).toEqual([]);
    expect(await inStore(token)).toBe(false);
  });

  it('CLI: parley forget --user removes every trace, from another process on the same store', async () => {
    const token = plant('cli');
    await plantThroughApi(token, 'u-cli');
    await w.parley.support.desk.idle();
    expect(await inStore(token)).toBe(true);

    const run = await runParley(['forget', '--user', 'api:u-cli', '--format', 'json'], { cwd: dir, env: { STORE_URL: storeUrl, LOG_LEVEL: 'silent' } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).deleted).toMatchObject({ conversations: 1, usageRows: 6, questionTexts: 3 });
    expect(JSON.parse(run.stdout).deleted.reviewItems).toBeGreaterThanOrEqual(1);
    expect(await namespacesWith(token)).toEqual([]);
    expect(await inStore(token)).toBe(false);

    const usage = await runParley(['forget'], { cwd: dir, env: { STORE_URL: storeUrl } });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--user or --conversation/);
  });
});
