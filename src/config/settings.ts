import { existsSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { Config } from './env.js';
import { knowledgeSchema, reviewSchema, type ConfigFile, type LoadedConfigFile } from './file.js';
import type { z } from 'zod';
import type { TokenizerHint } from './profile.js';
import { defaultProfile, type Profile } from './profile.js';
import { handoffSettings } from './handoff.js';
import type { KnowledgeSettings } from './knowledge.js';
import { mergeGuardrailSettings, type GuardrailSettings, type GuardrailSettingsInput } from './guardrails.js';

/**
 * Everything the config file decides, resolved against the environment: the one shape the
 * router, the model router and the knowledge base read. Without a file it is built from the
 * environment alone, so behaviour is exactly as before the file existed.
 */
export interface ProviderSettings {
  name: string;
  baseURL: string;
  apiKey?: string;
  /** Set when the file names a key variable that is not set: the provider is unavailable. */
  missingKeyEnv?: string;
  connectTimeoutMs: number;
  /** From the response's start to its first token (local servers read long prompts slowly). */
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  maxRetries: number;
}

export interface ModelSettings {
  name: string;
  provider: string;
  /** The id sent to the provider. */
  id: string;
  contextWindow: number;
  maxOutputTokens: number;
  price?: { input: number; output: number };
  fallbacks: string[];
  /** Accepts images with the question. */
  vision: boolean;
  /** How the model's tokenizer compares with o200k (prompt budgets). */
  tokenizer?: TokenizerHint;
}

export interface RouteMatch {
  platform?: string[];
  workspace?: string[];
  channel?: string[];
  command?: string[];
  keywords?: string[];
  regex?: string;
}

export interface RouteRule {
  /** The rule's name, or `routing[i]` when unnamed. */
  name: string;
  match: RouteMatch;
  profile: string;
}

export interface KnowledgeSourceSettings {
  name: string;
  dir: string;
  displayPath: string;
  url?: string;
  /** The setting that named the folder, for errors. */
  configKey?: string;
  /** A docs site read from its sitemap instead of a folder (`dir` is then empty). */
  sitemap?: string;
  /** Minutes between conditional re-checks of a sitemap source. */
  refreshMinutes?: number;
}

export interface Settings {
  /** The config file, when one was loaded. */
  file?: string;
  providers: Map<string, ProviderSettings>;
  /** Used for models not listed in `models` (the environment's provider). */
  defaultProvider: string;
  models: Map<string, ModelSettings>;
  profiles: Map<string, Profile>;
  defaultProfile: string;
  rules: RouteRule[];
  /** Retrieval thresholds as the knowledge middleware reads them, plus where and how to index. */
  knowledge: KnowledgeSettings & {
    sources: KnowledgeSourceSettings[];
    embeddings?: { provider: string; model: string };
    watch: boolean;
    chunk: { maxChars: number; minChars: number };
  };
  /** Top-level guardrails (defaults for profiles without their own). */
  guardrails?: GuardrailSettings;
  /** The review queue: threshold, where corrections go (issue 12). */
  review: ReviewSettings;
}

export type ReviewSettings = z.output<typeof reviewSchema>;

/** A model by its entry name in `models`, else by the id sent to the provider. */
export function findModel(settings: Settings, nameOrId: string): ModelSettings | undefined {
  return settings.models.get(nameOrId) ?? [...settings.models.values()].find((m) => m.id === nameOrId);
}

/** The provider the environment describes (OPENAI_BASE_URL, OPENAI_API_KEY, LLM_* timeouts). */
const ENV_PROVIDER = 'env';

/** Settings from the environment and, when given, the config file. */
export function resolveSettings(config: Config, file?: LoadedConfigFile, cwd: string = process.cwd()): Settings {
  const envProvider: ProviderSettings = {
    name: ENV_PROVIDER,
    baseURL: config.llm.baseURL,
    apiKey: config.llm.apiKey,
    connectTimeoutMs: config.llm.connectTimeoutMs,
    firstTokenTimeoutMs: config.llm.firstTokenTimeoutMs,
    idleTimeoutMs: config.llm.idleTimeoutMs,
    maxRetries: config.llm.maxRetries,
  };
  const base = defaultProfile(config);
  if (!file) {
    const sources = envSources(config, cwd);
    return {
      providers: new Map([[ENV_PROVIDER, envProvider]]),
      defaultProvider: ENV_PROVIDER,
      models: new Map(),
      profiles: new Map([['default', base]]),
      defaultProfile: 'default',
      rules: [],
      // The file's defaults (knowledgeSchema) are the one source of them.
      knowledge: { ...knowledgeSchema.parse({}), sources },
      review: reviewSchema.parse({}),
    };
  }

  const c: ConfigFile = file.config;
  const fileDir = dirname(resolve(cwd, file.path));
  const providers = new Map<string, ProviderSettings>([[ENV_PROVIDER, envProvider]]);
  for (const [name, p] of Object.entries(c.providers)) {
    providers.set(name, {
      name,
      baseURL: p.baseUrl.replace(/\/+$/, ''),
      apiKey: p.apiKeyEnv ? file.secrets[p.apiKeyEnv] : undefined,
      missingKeyEnv: p.apiKeyEnv && !file.secrets[p.apiKeyEnv] ? p.apiKeyEnv : undefined,
      connectTimeoutMs: p.connectTimeoutMs ?? config.llm.connectTimeoutMs,
      firstTokenTimeoutMs: p.firstTokenTimeoutMs ?? config.llm.firstTokenTimeoutMs,
      idleTimeoutMs: p.idleTimeoutMs ?? config.llm.idleTimeoutMs,
      maxRetries: p.maxRetries ?? config.llm.maxRetries,
    });
  }
  const models = new Map<string, ModelSettings>();
  for (const [name, m] of Object.entries(c.models)) {
    models.set(name, {
      name,
      provider: m.provider,
      id: m.id ?? name,
      contextWindow: m.contextWindow,
      maxOutputTokens: m.maxOutputTokens,
      price: m.price,
      fallbacks: m.fallbacks,
      vision: m.vision,
      tokenizer: tokenizerHint(m.tokenizer, m.charsPerToken, providers.get(m.provider)?.baseURL),
    });
  }

  const rawProfiles = (file.raw.profiles ?? {}) as Record<string, { guardrails?: GuardrailSettingsInput }>;
  const topGuardrails = file.raw.guardrails as GuardrailSettingsInput | undefined;
  const profiles = new Map<string, Profile>();
  const defined = Object.entries(c.profiles);
  if (!c.profiles.default) profiles.set('default', base);
  for (const [name, p] of defined) {
    // A profile without a model uses the environment's (OPENAI_MODEL), if any.
    const modelName = p.model ?? base.model;
    const model = modelName ? models.get(modelName) : undefined;
    profiles.set(name, {
      name,
      systemPrompt: p.systemPrompt ?? base.systemPrompt,
      model: modelName,
      fallbackModels: model ? model.fallbacks : modelName === base.model ? base.fallbackModels : [],
      contextWindow: model?.contextWindow ?? base.contextWindow,
      tokenizer: model?.tokenizer ?? base.tokenizer,
      maxOutputTokens: p.maxOutputTokens ?? model?.maxOutputTokens ?? base.maxOutputTokens,
      temperature: p.temperature ?? (model ? undefined : base.temperature),
      topP: p.topP,
      seed: p.seed,
      knowledge: p.knowledge,
      answerMode: p.answerMode,
      pricing: model?.price ? { inputPerMillion: model.price.input, outputPerMillion: model.price.output } : undefined,
      guardrails: rawProfiles[name]?.guardrails ? mergeGuardrailSettings(topGuardrails, rawProfiles[name]!.guardrails) : undefined,
      handoff: p.handoff ? handoffSettings(p.handoff, file.secrets) : undefined,
    });
  }
  const rules: RouteRule[] = c.routing.map((r, i) => ({
    name: r.name ?? `routing[${i}]`,
    profile: r.profile,
    match: {
      platform: many(r.match.platform),
      workspace: many(r.match.workspace),
      channel: many(r.match.channel),
      command: many(r.match.command),
      keywords: r.match.keywords,
      regex: r.match.regex,
    },
  }));
  const k = c.knowledge;
  const sources: KnowledgeSourceSettings[] = Object.entries(k.sources).map(([name, s]) =>
    s.sitemap !== undefined
      ? siteSource(name, s.sitemap, s.refreshMinutes, `knowledge.sources.${name}.sitemap`, s.url)
      : { ...source(name, s.path!, fileDir, cwd), url: s.url, configKey: `knowledge.sources.${name}.path` },
  );
  // KNOWLEDGE_DIR and KNOWLEDGE_URLS still work beside a file that declares no sources.
  if (!sources.length) sources.push(...envSources(config, cwd));
  return {
    file: file.path,
    providers,
    defaultProvider: ENV_PROVIDER,
    models,
    profiles,
    defaultProfile: c.defaultProfile,
    rules,
    knowledge: { ...k, sources },
    // Already parsed from the same raw value; the schema's prefault also fills an absent section, which stays undefined here.
    guardrails: topGuardrails ? c.guardrails : undefined,
    review: c.review,
  };
}

function many(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

/** KNOWLEDGE_DIR as the source `default`, and each of KNOWLEDGE_URLS as `site`, `site-2`, … */
function envSources(config: Config, cwd: string): KnowledgeSourceSettings[] {
  const out: KnowledgeSourceSettings[] = config.knowledgeDir ? [{ ...source('default', config.knowledgeDir, cwd), configKey: 'KNOWLEDGE_DIR' }] : [];
  config.knowledgeUrls?.forEach((url, i) => out.push(siteSource(i ? `site-${i + 1}` : 'site', url, ENV_SITE_REFRESH_MINUTES, 'KNOWLEDGE_URLS')));
  return out;
}

/** How often KNOWLEDGE_URLS sites are re-checked (the config file's `refreshMinutes` default). */
const ENV_SITE_REFRESH_MINUTES = 360;

function siteSource(name: string, sitemap: string, refreshMinutes: number, configKey: string, url?: string): KnowledgeSourceSettings {
  return { name, dir: '', displayPath: sitemap, sitemap, refreshMinutes, configKey, url };
}

function source(name: string, path: string, baseDir: string, cwd: string = baseDir): KnowledgeSourceSettings {
  const dir = isAbsolute(path) ? path : resolve(baseDir, path);
  const rel = relative(cwd, dir);
  return { name, dir, displayPath: rel && !rel.startsWith('..') ? rel.split('\\').join('/') : dir };
}

/** The bundled example knowledge, used when nothing else is configured (see docs/knowledge.md). */
export const EXAMPLE_KNOWLEDGE_DIR = 'examples/knowledge';
/** The config file looked for in the working directory when PARLEY_CONFIG is not set. */
export const DEFAULT_CONFIG_FILE = 'parley.config.yaml';

/**
 * Fills in what a command-line run on a fresh clone should find by itself: `parley.config.yaml`
 * in the working directory, else (with no KNOWLEDGE_DIR or KNOWLEDGE_URLS, and only when
 * `exampleKnowledge` is set: the console demo, `parley ask|chat|eval|route`) the bundled
 * `examples/knowledge`. `parley start` never gets the example docs: a real user must not be
 * answered from a fictional product's FAQ. Code that builds Parley from a Config gets exactly what it asked for.
 */
export function withLocalDefaults(config: Config, cwd: string = process.cwd(), o: { exampleKnowledge?: boolean } = {}): Config {
  if (config.configFile) return config;
  if (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE))) return { ...config, configFile: DEFAULT_CONFIG_FILE };
  if (o.exampleKnowledge && !config.knowledgeDir && !config.knowledgeUrls?.length && existsSync(resolve(cwd, EXAMPLE_KNOWLEDGE_DIR))) {
    return { ...config, knowledgeDir: EXAMPLE_KNOWLEDGE_DIR, exampleKnowledge: true };
  }
  return config;
}

/** OpenAI's own API counts with o200k; every other server is counted conservatively unless the file says otherwise. */
export function tokenizerHint(kind: 'o200k' | 'other' | undefined, charsPerToken: number | undefined, baseURL: string | undefined): TokenizerHint {
  const official = !!baseURL && /^https:\/\/api\.openai\.com\//.test(baseURL);
  return { kind: kind ?? (official ? 'o200k' : 'other'), ...(charsPerToken !== undefined && { charsPerToken }) };
}
