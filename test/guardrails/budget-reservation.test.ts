import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startParley, type Parley } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { hashApiKey } from '../../src/platforms/http-api/keys.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { redisDbUrl } from '../helpers/redis.js';

/**
 * Budgets are reserved before the model is called, not checked: 20 concurrent asks of 60 tokens
 * each against a 300-token daily budget may not all pass a check none has paid for yet.
 */
const KEY = 'pk_budget_reserve_0123456789';
const REDIS_DB_URL = redisDbUrl(11);
const log = silentLogger();
const dir = mkdtempSync(join(tmpdir(), 'parley-reserve-'));
let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await FakeOpenAI.start();
  // Every answer costs 60 tokens and takes a moment, so the 20 asks overlap.
  fake.defaultReply = () => ({ text: 'Sixty tokens of answer.', firstTokenDelayMs: 300, usage: { prompt_tokens: 40, completion_tokens: 20 } });
  const redis = new Redis(REDIS_DB_URL);
  await redis.flushdb();
  await redis.quit();
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string>) =>
  loadConfig({ ...fake.env(), LLM_MAX_RETRIES: '0', PORT: '0', OPENAI_MAX_OUTPUT_TOKENS: '50', SYSTEM_PROMPT: 'Be brief.', KNOWLEDGE_DIR: dir, ...extra });

async function ask(p: Parley, i: number, body: Record<string, unknown> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`http://127.0.0.1:${p.port}/api/v1/ask`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ question: `question number ${i}`, ...body }),
  });
  return { status: res.status, json: await res.json() };
}

describe('budgets reserved before the model call', () => {
  it("an API key's 300 tokens/day answers at most 6 of 20 concurrent 60-token asks, across two instances sharing Redis", async () => {
    const config = env({ STORE_URL: REDIS_DB_URL, API_KEYS: `reserve:${hashApiKey(KEY)}:0:300` });
    const [a, b] = await Promise.all([startParley(config, { log, watch: false }), startParley(config, { log, watch: false })]);
    try {
      fake.requests.length = 0;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(i % 2 ? a : b, i)));
      const answered = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 429);
      console.log(`API key budget: ${answered.length} of 20 answered`);
      expect(answered.length).toBeGreaterThanOrEqual(1);
      expect(answered.length).toBeLessThanOrEqual(6);
      expect(refused.length).toBe(20 - answered.length);
      expect(refused.every((r) => r.json.error.code === 'budget_exhausted')).toBe(true);
      expect(fake.chatRequests).toHaveLength(answered.length);
      // Settled with the real usage: the day's counter holds exactly what the answers used, as each
      // answer's `usage` reports it (60 for the answer, plus the query rewrite's tokens when one was made).
      const redis = new Redis(REDIS_DB_URL);
      const day = new Date().toISOString().slice(0, 10);
      const reported = answered.reduce((n, r) => n + r.json.usage.promptTokens + r.json.usage.completionTokens, 0);
      expect(reported).toBeGreaterThanOrEqual(answered.length * 60);
      expect(Number(await redis.get(`parley:counters:api:tokens:reserve:${day}`))).toBe(reported);
      await redis.quit();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("a user's 300-token daily budget answers at most 6 of 20 concurrent 60-token asks", async () => {
    const configFile = join(mkdtempSync(join(tmpdir(), 'parley-reserve-config-')), 'parley.config.yaml');
    writeFileSync(configFile, ['guardrails:', '  budgets:', '    dailyTokens: { perUser: 300 }', 'profiles:', '  default: {}', ''].join('\n'));
    const p = await startParley(env({ STORE_URL: 'memory://', API_KEYS: `reserve:${hashApiKey(KEY)}`, PARLEY_CONFIG: configFile }), { log, watch: false });
    try {
      fake.requests.length = 0;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(p, i, { user: 'u-budget' })));
      const answered = results.filter((r) => r.status === 200 && r.json.source === 'model');
      console.log(`user budget: ${answered.length} of 20 answered`);
      expect(answered.length).toBeGreaterThanOrEqual(1);
      expect(answered.length).toBeLessThanOrEqual(6);
      expect(fake.chatRequests).toHaveLength(answered.length);
      const declined = results.filter((r) => r.json.source === 'budget_spent');
      expect(declined).toHaveLength(20 - answered.length);
    } finally {
      await p.stop();
    }
  });
});
