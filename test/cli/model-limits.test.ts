import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { FakeModelServer } from '../fakes/model-servers.js';
import { runParley } from '../helpers/process.js';

/** The built CLI against model servers: a cut answer on the console, and doctor checking the model name. */
const cwd = mkdtempSync(join(tmpdir(), 'parley-cli-limits-'));
let fake: FakeOpenAI;
let llama: FakeModelServer;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
  llama = await FakeModelServer.start('llamacpp');
});
afterAll(async () => {
  await fake.close();
  await llama.close();
  rmSync(cwd, { recursive: true, force: true });
});

const parley = (args: string[], env: Record<string, string> = {}) => runParley(args, { cwd, env: { LOG_LEVEL: 'error', STORE_URL: 'memory://', ...env } });

describe('parley CLI and model limits', () => {
  it('ask shows an answer cut at the length limit as cut and exits non-zero', async () => {
    fake.script({ text: 'The first steps are to open the settings and', finishReason: 'length' });
    const r = await parley(['ask', 'explain the whole setup'], fake.env());
    expect(r.stdout).toMatch(/^The first steps are to open the settings and\n\n.*The answer was cut at the length limit\. Ask me to continue/m);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^parley: no complete answer \(cut: the length limit\)$/m);
  });

  it('doctor warns when the configured model is not listed and when another model answered', async () => {
    llama.servedModel = 'smollm2';
    const r = await parley(['doctor'], llama.env('gpt-4o-mini'));
    expect(r.stdout).toMatch(/model gpt-4o-mini listed — .*lists smollm2/);
    expect(r.stdout).toMatch(/model gpt-4o-mini answered — the response names model "smollm2"/);
    expect(r.stdout).toMatch(/fix: set OPENAI_MODEL=smollm2/);
  });
});
