import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startParley, type Parley } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/env.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { hashApiKey } from '../../../src/platforms/http-api/keys.js';
import { FakeOpenAI } from '../../fakes/openai-server.js';
import { copyOfExample } from '../../knowledge/helpers.js';

/**
 * `/api/v1/ask` answers carry the live groundedness score, so a client can treat weak answers
 * with care; `/metrics` exports it as a histogram per profile.
 */
const KEY = 'pk_grounded_0123456789abcdef';
let fake: FakeOpenAI;
let parley: Parley;
let dir: string;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
  dir = copyOfExample();
  const config = loadConfig({
    OPENAI_BASE_URL: fake.url,
    OPENAI_API_KEY: 'k',
    OPENAI_MODEL: 'fake-model',
    STORE_URL: 'memory://',
    PORT: '0',
    LOG_LEVEL: 'silent',
    KNOWLEDGE_DIR: dir,
    API_KEYS: `main:${hashApiKey(KEY)}`,
  });
  parley = await startParley(config, { log: silentLogger(), watch: false });
});
afterAll(async () => {
  await parley?.stop();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ask(question: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${parley.port}/api/v1/ask`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ question }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe('groundedness in /api/v1/ask answers', () => {
  it('is 1 for an answer the passages back, 0 for invented numbers, null for an FAQ answer', async () => {
    fake.script('Annual plans can be refunded in full within 30 days of purchase [1].');
    expect(await ask('Can I get a refund on an annual plan after three months?')).toMatchObject({ source: 'model', groundedness: 1 });
    fake.script('Annual plans can be refunded within 90 days [1]. After that a 25% fee applies.');
    expect(await ask('Is a refund of an annual plan possible after three months?')).toMatchObject({ source: 'model', groundedness: 0 });
    expect(await ask('How do I reset my password?')).toMatchObject({ source: 'faq', groundedness: null });
  });

  it('is exported on /metrics as parley_answer_groundedness per profile', async () => {
    const text = await (await fetch(`http://127.0.0.1:${parley.port}/metrics`)).text();
    const value = (series: string) => Number(new RegExp(`^${series} (\\S+)$`, 'm').exec(text)?.[1]);
    // The two model answers above: 1 and 0 (the FAQ answer has no score).
    expect(value('parley_answer_groundedness_count\\{profile="default"\\}')).toBe(2);
    expect(value('parley_answer_groundedness_sum\\{profile="default"\\}')).toBe(1);
    expect(value('parley_answer_groundedness_bucket\\{le="0.34",profile="default"\\}')).toBe(1);
  });
});
