import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, loadConfig } from '../../src/config/env.js';

const text = readFileSync(join(import.meta.dirname, '../../.env.example'), 'utf8');

/**
 * `docker run --env-file` / compose `env_file` semantics (docker/cli opts/envfile.go): a line is
 * left-trimmed; empty lines and lines starting with `#` are skipped; the key ends at the first `=`
 * and the value is everything after it, verbatim — no quote removal, no inline comments.
 */
function dockerEnvFile(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of source.split('\n')) {
    const line = raw.trimStart();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`a line without "=" takes the host's variable: ${line}`);
    const key = line.slice(0, eq);
    if (/\s/.test(key)) throw new Error(`variable contains whitespaces: ${key}`);
    out[key] = line.slice(eq + 1);
  }
  return out;
}

/** The `# KEY=value` examples, as they read once a user deletes the leading `# `. */
function commentedExamples(source: string): { key: string; value: string }[] {
  return [...source.matchAll(/^#\s*([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => ({ key: m[1]!, value: m[2]! }));
}

describe('.env.example', () => {
  it('documents every variable Parley reads, and no other', () => {
    const documented = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
    expect([...ENV_VARIABLES].filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !(ENV_VARIABLES as string[]).includes(v))).toEqual([]);
  });

  it('copied as it is, turns on no model (no key) and sets no store path (Docker keeps its /data)', () => {
    for (const env of [dockerEnvFile(text), parseEnv(text) as Record<string, string>]) {
      const config = loadConfig(env);
      expect(config.llm.model).toBeUndefined();
      expect(env.STORE_URL).toBeUndefined();
      expect(config.slack).toBeUndefined();
      expect(config.discord).toBeUndefined();
    }
  });

  it('reads the same under Docker --env-file and Node (no quotes, no inline comments on active lines)', () => {
    expect(dockerEnvFile(text)).toEqual({ ...parseEnv(text) });
  });

  it('has examples that stay valid when uncommented, whichever reader loads them', () => {
    const examples = commentedExamples(text);
    expect(examples.length).toBeGreaterThan(40);
    for (const { key, value } of examples) {
      // Docker passes these verbatim: a trailing comment or quotes would become part of the value.
      expect(value, key).not.toMatch(/\s#/);
      expect(value, key).not.toMatch(/^["']|["']$/);
      expect(value, key).toBe(value.trim());
    }
  });

  it('examples with literal values (not placeholders) pass validation once uncommented', () => {
    const literal = commentedExamples(text).filter(({ value }) => !/\.\.\.|<|…/.test(value));
    for (const { key, value } of literal) {
      const env: Record<string, string> = { [key]: value };
      // Slack and the alert channel need their companions to validate.
      if (key.startsWith('SLACK_')) Object.assign(env, { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
      if (key.startsWith('DISCORD_')) env.DISCORD_TOKEN = 'a'.repeat(60);
      expect(() => loadConfig(env), `${key}=${value}`).not.toThrow();
    }
  });
});
