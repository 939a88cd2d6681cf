import type { ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLACK_EVENTS_MAX_BODY_BYTES } from '../../../src/platforms/slack/verify.js';
import { FakeOpenAI } from '../../fakes/openai-server.js';
import { FakeSlack } from '../../fakes/slack/fake-slack.js';
import { spawnParley, until } from '../../helpers/process.js';

/**
 * Memory under a flood: unsigned 50 MB POSTs to /slack/events, against `parley start` in its own
 * process (so its RSS is Parley's alone). The body must be refused while it is read, not
 * buffered whole and then found unsigned.
 */
const MB = 1024 * 1024;
const FLOOD_BYTES = 50 * MB;
let openai: FakeOpenAI;
let slack: FakeSlack;
let child: ChildProcess;
let base = '';
const dir = mkdtempSync(join(tmpdir(), 'parley-body-limit-'));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** POSTs `total` bytes in 64 KB chunks (chunked, or with its Content-Length); resolves with the status the server answered. */
function flood(url: string, total: number, o: { declareLength: boolean }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(o.declareLength ? { 'content-length': String(total) } : { 'transfer-encoding': 'chunked' }) },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
      // Refused early: stop sending the rest.
      req.destroy();
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (sent < total && !answered) {
        const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
        sent += part.length;
        if (!req.write(part)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

beforeAll(async () => {
  [openai, slack] = await Promise.all([FakeOpenAI.start(), FakeSlack.start()]);
  const port = await freePort();
  child = spawnParley(
    ['start'],
    {
      ...openai.env(),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: slack.signingSecret,
      SLACK_API_URL: slack.apiUrl,
      STORE_URL: 'memory://',
      PORT: String(port),
      LOG_LEVEL: 'silent',
    },
    dir,
  );
  base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 45_000, 'parley started');
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await Promise.all([openai.close(), slack.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /slack/events body limit', () => {
  it('refuses unsigned 50 MB bodies with a 4xx while reading them, costing under 30 MB of RSS', async () => {
    const url = `${base}/slack/events`;
    // Warm up the route (Bolt, JSON parsing) so the baseline includes what any request costs.
    for (let i = 0; i < 3; i++) expect(await flood(url, 1024, { declareLength: true })).toBe(401);
    const before = rssBytes(child.pid!);
    const statuses: number[] = [];
    for (const declareLength of [false, true, false, true]) statuses.push(await flood(url, FLOOD_BYTES, { declareLength }));
    const growth = rssBytes(child.pid!) - before;
    console.log(`RSS before ${(before / MB).toFixed(1)} MB, growth after 4 × 50 MB unsigned POSTs: ${(growth / MB).toFixed(1)} MB`);
    expect(statuses).toEqual([413, 413, 413, 413]);
    expect(growth).toBeLessThan(30 * MB);
    // Just over the limit is refused too; Slack-sized bodies still reach the signature check (401 unsigned).
    expect(await flood(url, SLACK_EVENTS_MAX_BODY_BYTES + 1, { declareLength: false })).toBe(413);
    expect(await flood(url, 100 * 1024, { declareLength: false })).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(openai.chatRequests).toHaveLength(0);
  });
});
