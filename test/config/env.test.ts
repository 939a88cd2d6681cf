import { describe, expect, it } from 'vitest';
import { EnvError, loadConfig } from '../../src/config/env.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof EnvError) return err.message.split('\n');
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('works with nothing set: defaults, no model, no platforms', () => {
    const c = loadConfig({});
    expect(c.store.url).toBe('sqlite://data/parley.sqlite');
    expect(c.http.port).toBe(3000);
    expect(c.llm.baseURL).toBe('https://api.openai.com/v1');
    expect(c.llm.model).toBeUndefined();
    expect(c.slack).toBeUndefined();
    expect(c.discord).toBeUndefined();
    expect(c.log.content).toBe(false);
  });

  it('reads the model endpoint and platform credentials', () => {
    const c = loadConfig({
      OPENAI_BASE_URL: 'http://localhost:11434/v1/',
      OPENAI_MODEL: 'llama3.1',
      OPENAI_FALLBACK_MODELS: 'qwen2.5, mistral',
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_APP_TOKEN: 'xapp-1',
      DISCORD_TOKEN: 'a'.repeat(60),
      STORE_URL: 'redis://127.0.0.1:6379/2',
      LOG_CONTENT: 'true',
    });
    expect(c.llm).toMatchObject({ baseURL: 'http://localhost:11434/v1', model: 'llama3.1', fallbackModels: ['qwen2.5', 'mistral'] });
    expect(c.slack).toMatchObject({ botToken: 'xoxb-1', appToken: 'xapp-1', command: 'ask' });
    expect(c.discord?.token).toHaveLength(60);
    expect(c.log.content).toBe(true);
  });

  it('names each bad variable on its own line with what is expected', () => {
    expect(problems({ OPENAI_BASE_URL: 'not a url' })).toEqual([
      'OPENAI_BASE_URL: expected an http(s) URL such as https://api.openai.com/v1 (got "not a url")',
    ]);
    expect(problems({ STORE_URL: 'mongodb://x' })).toEqual([
      'STORE_URL: unsupported scheme "mongodb://" (expected sqlite://, memory:// or redis://) (got "mongodb://x")',
    ]);
    const many = problems({ PORT: 'eighty', LOG_LEVEL: 'loud', OPENAI_TEMPERATURE: '7' });
    expect(many).toHaveLength(3);
    expect(many[0]).toMatch(/^OPENAI_TEMPERATURE: expected at most 2/);
    expect(many.some((l) => l.startsWith('PORT: expected a whole number'))).toBe(true);
    expect(many.some((l) => l.startsWith('LOG_LEVEL: '))).toBe(true);
  });

  it('never echoes a secret in an error', () => {
    const lines = problems({ SLACK_BOT_TOKEN: 'xoxp-user-token-secret', SLACK_SIGNING_SECRET: 's' });
    expect(lines[0]).toMatch(/^SLACK_BOT_TOKEN: expected a bot token starting with "xoxb-"/);
    expect(lines.join('\n')).not.toContain('xoxp-user-token-secret');
  });

  it('requires a transport for Slack', () => {
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1' })).toEqual([
      'SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN for HTTP mode; or set SLACK_APP_TOKEN for Socket Mode',
    ]);
  });
});
