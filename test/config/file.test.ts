import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { loadConfigFile } from '../../src/config/file.js';
import { resolveSettings } from '../../src/config/settings.js';
import { ConfigError } from '../../src/kernel/errors.js';
import { defaultProfile } from '../../src/config/profile.js';
import { SCHEMA_PATH, schemaText } from '../../schema/generate.js';

const root = resolve(import.meta.dirname, '../..');
const env = { OPENAI_API_KEY: 'sk-test', OPENAI_MODEL: 'gpt-4o-mini' };
const config = loadConfig(env);

/** The ConfigError `text` produces, as "key: message". */
function errorOf(text: string, e: Record<string, string> = env): ConfigError {
  try {
    loadConfigFile('parley.config.yaml', e, text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const valid = `
providers:
  openai: { baseUrl: https://api.openai.com/v1, apiKeyEnv: OPENAI_API_KEY }
  local: { baseUrl: http://127.0.0.1:11434/v1 }
models:
  gpt-4o: { provider: openai, contextWindow: 128000, maxOutputTokens: 1500, price: { input: 2.5, output: 10 }, fallbacks: [llama] }
  llama: { provider: local, id: llama3.1:8b, contextWindow: 8192 }
profiles:
  billing:
    model: gpt-4o
    temperature: 0.1
    topP: 0.9
    seed: 7
    maxOutputTokens: 600
    answerMode: grounded
    systemPrompt: Billing only.
    guardrails: { input: { maxQuestionChars: 500 } }
routing:
  - { name: billing, match: { keywords: [refund] }, profile: billing }
guardrails:
  input: { maxAttachments: 2 }
`;

describe('config file', () => {
  it('parses providers, models, profiles and rules, with the key read from the named variable', () => {
    const file = loadConfigFile('parley.config.yaml', env, valid);
    const s = resolveSettings(config, file, root);
    expect(s.providers.get('openai')).toMatchObject({ baseURL: 'https://api.openai.com/v1', apiKey: 'sk-test' });
    expect(s.models.get('llama')).toMatchObject({ provider: 'local', id: 'llama3.1:8b', contextWindow: 8192, maxOutputTokens: 1024 });
    expect(s.profiles.get('billing')).toMatchObject({
      model: 'gpt-4o',
      fallbackModels: ['llama'],
      contextWindow: 128000,
      maxOutputTokens: 600,
      temperature: 0.1,
      topP: 0.9,
      seed: 7,
      answerMode: 'grounded',
      systemPrompt: 'Billing only.',
      pricing: { inputPerMillion: 2.5, outputPerMillion: 10 },
    });
    // A profile's guardrails layer over the top-level ones, section by section.
    expect(s.profiles.get('billing')!.guardrails!.input).toMatchObject({ maxQuestionChars: 500, maxAttachments: 2 });
    expect(s.guardrails!.input.maxAttachments).toBe(2);
    // `default` still exists, built from the environment.
    expect(s.profiles.get('default')).toEqual(defaultProfile(config));
    expect(s.rules).toEqual([{ name: 'billing', profile: 'billing', match: { keywords: ['refund'] } }]);
  });

  it('without a file, the settings are the environment defaults exactly', () => {
    const s = resolveSettings(config, undefined, root);
    expect([...s.profiles.values()]).toEqual([defaultProfile(config)]);
    expect(s.rules).toEqual([]);
    expect(s.knowledge.sources).toEqual([]);
    expect(s.providers.get(s.defaultProvider)).toMatchObject({ baseURL: config.llm.baseURL, apiKey: 'sk-test' });
  });

  it('names the exact key and line of each kind of mistake', () => {
    const cases: [string, RegExp][] = [
      [
        valid.replace('model: gpt-4o\n', 'model: gpt-5\n'),
        /^profiles\.billing\.model: unknown model "gpt-5" \(defined: gpt-4o, llama\) \(parley\.config\.yaml line 10\)$/,
      ],
      [valid.replace('temperature: 0.1', 'temprature: 0.1'), /^profiles\.billing\.temprature: unknown key .*line 11\)$/],
      [valid.replace('topP: 0.9', 'topP: high'), /^profiles\.billing\.topP: .*expected number.*line 12\)$/],
      [valid.replace('profile: billing }', 'profile: billling }'), /^routing\.0\.profile: unknown profile "billling".*line 19\)$/],
      [valid.replace('keywords: [refund]', 'regex: "(unclosed"'), /^routing\.0\.match\.regex: not a valid regular expression .*line 19\)$/],
      [valid.replace('fallbacks: [llama]', 'fallbacks: [mistral]'), /^models\.gpt-4o\.fallbacks\.0: unknown model "mistral".*line 6\)$/],
      [valid.replace('provider: local,', 'provider: ollama,'), /^models\.llama\.provider: unknown provider "ollama".*line 7\)$/],
      [valid.replace('maxQuestionChars: 500', 'maxQuestionChars: -1'), /^profiles\.billing\.guardrails\.input\.maxQuestionChars: .*line 17\)$/],
      [`${valid}\nextra: [`, /^parley\.config\.yaml: line 2[23]: /],
    ];
    for (const [text, expected] of cases) expect(errorOf(text).message).toMatch(expected);
    expect(errorOf(valid.replace('model: gpt-4o\n', 'model: gpt-5\n')).key).toBe('profiles.billing.model');
  });

  it('a missing key variable is not fatal: the provider is marked unavailable and the reason names key and line', () => {
    const file = loadConfigFile('parley.config.yaml', {}, valid);
    expect(file.warnings).toEqual([expect.stringMatching(/^providers\.openai\.apiKeyEnv: environment variable OPENAI_API_KEY is not set.*line 3\)$/)]);
    expect(resolveSettings(config, file, root).providers.get('openai')!.missingKeyEnv).toBe('OPENAI_API_KEY');
  });

  it('the shipped example config is valid and points at the example knowledge', () => {
    const file = loadConfigFile('examples/parley.config.yaml', env, readFileSync(resolve(root, 'examples/parley.config.yaml'), 'utf8'));
    const s = resolveSettings(config, file, root);
    expect(s.knowledge.sources).toEqual([
      {
        name: 'tallyho',
        dir: resolve(root, 'examples/knowledge'),
        displayPath: 'examples/knowledge',
        url: undefined,
        configKey: 'knowledge.sources.tallyho.path',
      },
    ]);
    expect([...s.profiles.keys()].sort()).toEqual(['billing', 'default', 'legal']);
  });

  it('schema/parley.config.schema.json matches the zod definitions (regenerate: npx tsx schema/generate.ts)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(schemaText());
    const schema = JSON.parse(schemaText());
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['providers', 'models', 'profiles', 'routing', 'knowledge', 'guardrails']));
  });
});
