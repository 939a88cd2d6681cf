import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { CLI, runParley } from '../helpers/process.js';

/** Runs the built CLI in a child process, as an operator would. */
const cwd = mkdtempSync(join(tmpdir(), 'parley-cli-'));
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(cwd, { recursive: true, force: true });
});

const parley = (args: string[], env: Record<string, string> = {}) => runParley(args, { cwd, env });

const modelEnv = () => ({ OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: 'k', OPENAI_MODEL: 'fake-model', LOG_LEVEL: 'error' });

describe('parley CLI', () => {
  it('ask streams the answer to stdout and keeps a thread across runs (sqlite default)', async () => {
    fake.script({ text: 'Hello Bob, noted.', chunkDelayMs: 5 });
    const first = await parley(['ask', '--thread', 'demo', 'My name is Bob'], modelEnv());
    expect(first).toMatchObject({ code: 0, stdout: 'Hello Bob, noted.\n' });

    fake.script('You are Bob.');
    const second = await parley(['ask', '--thread', 'demo', 'What is my name?'], modelEnv());
    expect(second.stdout).toBe('You are Bob.\n');
    // The second process sent the first process's turn as history.
    const sent = fake.chatRequests.at(-1)!.body.messages.map((m: { content: string }) => m.content);
    expect(sent.slice(1)).toEqual(['My name is Bob', 'Hello Bob, noted.', 'What is my name?']);
  });

  it('exits non-zero with a clear message when the model fails', async () => {
    fake.script({ status: 401 });
    const r = await parley(['ask', 'hi'], modelEnv());
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/could not get an answer from the model/);
    expect(r.stderr).toMatch(/^parley: no complete answer \(llm_rejected\)$/m);
  });

  it('stops with one line naming the variable for a bad OPENAI_BASE_URL or STORE_URL scheme', async () => {
    const bad = await parley(['ask', 'hi'], { ...modelEnv(), OPENAI_BASE_URL: 'localhost:8080' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('parley: OPENAI_BASE_URL: expected an http(s) URL such as https://api.openai.com/v1 (got "localhost:8080")\n');
    const store = await parley(['start'], { ...modelEnv(), STORE_URL: 'postgres://db' });
    expect(store.code).toBe(2);
    expect(store.stderr).toBe('parley: STORE_URL: unsupported scheme "postgres://" (expected sqlite://, memory:// or redis://) (got "postgres://db")\n');
  });

  it('says which variables to set when no model is configured', async () => {
    const r = await parley(['ask', 'hi'], { LOG_LEVEL: 'error' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/set OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL/);
  });

  it('rejects an unknown command with the usage', async () => {
    const r = await parley(['fly']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "fly"[\s\S]*parley ask/);
  });

  it("prints a command's usage for --help, without running it", async () => {
    const r = await parley(['review', '--help'], { STORE_URL: 'memory://' });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: parley review \[--since 7d\][^\n]*correct/);
  });

  it('doctor prints a checklist with a fix for each failure', async () => {
    fake.script('p');
    const ok = await parley(['doctor'], { ...modelEnv(), STORE_URL: 'memory://' });
    expect(ok.stdout).toMatch(/^✔ configuration/m);
    expect(ok.stdout).toMatch(/^✔ store \(memory\) — read and write work$/m);
    expect(ok.stdout).toMatch(/^✔ model fake-model — answered a one-token call/m);
    expect(ok.stdout).toMatch(/^✘ platforms — no chat platform configured\n {4}fix: set SLACK_BOT_TOKEN/m);
    expect(ok.code).toBe(1);
    expect(fake.chatRequests.at(-1)!.body.max_tokens).toBe(1);

    fake.script({ status: 401 });
    const badKey = await parley(['doctor'], { ...modelEnv(), STORE_URL: 'memory://' });
    expect(badKey.stdout).toMatch(/^✘ model fake-model — .*\(401\)[^\n]*\n {4}fix: check OPENAI_API_KEY$/m);
  });

  it('ask ends quietly with 0 when the reader closes the pipe early (`parley ask … | head`)', async () => {
    fake.script({ text: 'A long answer. '.repeat(200), chunkDelayMs: 2 });
    const child = spawn(process.execPath, [CLI, 'ask', '--thread', 'pipe', 'tell me everything'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...modelEnv(), STORE_URL: 'memory://' },
    });
    // The reader goes away as soon as the first bytes arrive, as `head -1` does.
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect(stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(code).toBe(0);
  });
});
