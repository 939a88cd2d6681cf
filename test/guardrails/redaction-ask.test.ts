import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { runParley } from '../helpers/process.js';

/**
 * End to end, as an operator runs it: `parley ask` (the built CLI, default config and sqlite
 * store) with secrets written the way people write them. The fake model records every request;
 * none may contain the secret. Needs `npm run build`.
 */
const cwd = mkdtempSync(join(tmpdir(), 'parley-redact-'));
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(cwd, { recursive: true, force: true });
});

describe('parley ask keeps secrets from the model', () => {
  it.each([
    { text: 'the root passwd on the jump box is Tr0ub4dor&3, why does sudo still ask?', secret: 'Tr0ub4dor&3' },
    { text: '我的密码是 abc12345，登录不上去', secret: 'abc12345' },
    { text: '【招商银行】验证码：559102，请勿泄露', secret: '559102' },
    { text: 'my SSN is 536-90-4421, is that needed?', secret: '536-90-4421' },
    { text: '身份证号 11010519491231002X 实名认证失败', secret: '11010519491231002X' },
    { text: 'my NI number is AB 12 34 56 C', secret: 'AB 12 34 56 C' },
  ])('$secret', async ({ text, secret }) => {
    fake.script('Noted.');
    const before = fake.chatRequests.length;
    const r = await runParley(['ask', text], { cwd, env: { ...fake.env(), LOG_LEVEL: 'error' } });
    expect(r.code).toBe(0);
    expect(fake.chatRequests.length).toBe(before + 1);
    const sent = JSON.stringify(fake.chatRequests.at(-1)!.body);
    expect(sent).not.toContain(secret);
    expect(sent).toMatch(/\[[\w ]+ removed\]/);
    expect(r.stdout).toMatch(/I removed .+ from your message before sending it to the model/);
  });

  it('leaves code that only names a secret as it was', async () => {
    fake.script('Looks fine.');
    const text = 'is `api_key = os.environ["X_API_KEY"]` or `process.env.X_API_KEY` better? the docs use sk-...';
    const r = await runParley(['ask', text], { cwd, env: { ...fake.env(), LOG_LEVEL: 'error' } });
    expect(r.code).toBe(0);
    const msgs = fake.chatRequests.at(-1)!.body.messages as { role: string; content: string }[];
    expect(msgs.at(-1)).toEqual({ role: 'user', content: text });
    expect(r.stdout).not.toMatch(/I removed/);
  });
});
