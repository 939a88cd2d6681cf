import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { httpUrl as anyHttpUrl } from './validators.js';
import { ConfigError } from '../kernel/errors.js';
import { parseStoreUrl } from '../store/store.js';

/**
 * The one place that reads the environment. Everything else receives the typed `Config`.
 * Each variable is validated on its own so an error names it and says what is expected.
 */

export const DEFAULT_SYSTEM_PROMPT =
  'You are Parley, a helpful customer-support assistant in a team chat. Answer clearly and concisely in Markdown. ' +
  'If you are not sure of an answer, say so instead of guessing.';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' }).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'expected a whole number' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { message: `expected at least ${min}` })
        .max(max, { message: `expected at most ${max}` }),
    );
const num = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/, { message: 'expected a number' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { message: `expected at least ${min}` })
        .max(max, { message: `expected at most ${max}` }),
    );
/** An http(s) URL without trailing slashes (SDKs append their own paths). */
const httpUrl = anyHttpUrl.transform((v) => v.replace(/\/+$/, ''));
const prefixed = (prefix: string, what: string) =>
  z
    .string()
    .min(1)
    .refine((v) => v.startsWith(prefix), { message: `expected ${what} starting with "${prefix}"` });
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const name = z.string().regex(/^[a-z0-9_-]{1,32}$/, { message: 'expected a lowercase command name without the slash, e.g. ask' });

const schema = {
  OPENAI_BASE_URL: httpUrl.default('https://api.openai.com/v1'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_MODEL: z.string().min(1).optional(),
  OPENAI_FALLBACK_MODELS: list.optional(),
  OPENAI_CONTEXT_WINDOW: int(256).default(128_000),
  OPENAI_MAX_OUTPUT_TOKENS: int(16).default(1024),
  OPENAI_TEMPERATURE: num(0, 2).optional(),
  OPENAI_VISION: bool.default(false),
  LLM_CONNECT_TIMEOUT_MS: int(100).default(15_000),
  LLM_FIRST_TOKEN_TIMEOUT_MS: int(100).default(300_000),
  LLM_IDLE_TIMEOUT_MS: int(100).default(60_000),
  LLM_MAX_RETRIES: int(0, 10).default(3),
  SYSTEM_PROMPT: z.string().min(1).optional(),
  HISTORY_TTL_DAYS: num(0, 3650).default(30),
  HISTORY_MAX_TURNS: int(2, 1000).default(40),
  STORE_URL: z
    .string()
    .default('sqlite://data/parley.sqlite')
    .superRefine((v, ctx) => {
      try {
        parseStoreUrl(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof ConfigError ? e.message.replace(/^STORE_URL: /, '') : String(e) });
      }
    }),
  PORT: int(0, 65535).default(3000),
  SHUTDOWN_DEADLINE_MS: int(0, 600_000).default(25_000),
  ALERT_CHANNEL: z
    .string()
    .regex(/^[a-z][a-z0-9-]*:[A-Za-z0-9_-]+$/, { message: 'expected platform:channel, e.g. slack:C0123ABCD or discord:123456789012345678' })
    .optional(),
  ALERT_MODEL_ERROR_RATE: num(0, 1).default(0.3),
  ALERT_WINDOW_MINUTES: num(1, 1440).default(10),
  ALERT_MIN_CALLS: int(1).default(10),
  ALERT_P99_LATENCY_MS: int(1000).default(60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_CONTENT: bool.default(false),
  SLACK_BOT_TOKEN: prefixed('xoxb-', 'a bot token').optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  SLACK_APP_TOKEN: prefixed('xapp-', 'an app-level token').optional(),
  SLACK_API_URL: httpUrl.optional(),
  SLACK_COMMAND: name.default('ask'),
  SLACK_ALLOW_BOTS: bool.default(false),
  SLACK_ASK_PRIVATE: bool.default(false),
  DISCORD_TOKEN: z.string().min(20, { message: 'expected a Discord bot token' }).optional(),
  DISCORD_API_URL: httpUrl.optional(),
  DISCORD_GUILD_ID: z
    .string()
    .regex(/^\d{17,20}$/, { message: 'expected a Discord guild id (a snowflake)' })
    .optional(),
  DISCORD_COMMAND: name.default('ask'),
  DISCORD_REPLY_MODE: z.enum(['auto', 'reply', 'thread']).default('auto'),
  HANDOFF_CHANNEL: z
    .string()
    .regex(/^[a-z][a-z0-9-]*:[A-Za-z0-9_-]+$/, { message: 'expected platform:channel, e.g. slack:C0123ABCD or discord:123456789012345678' })
    .optional(),
  HANDOFF_PING: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, { message: 'expected a Slack user group id (S…) or a Discord role id' })
    .optional(),
  HANDOFF_WEBHOOK_URL: httpUrl.optional(),
  HANDOFF_WEBHOOK_SECRET: z.string().min(16, { message: 'expected at least 16 characters' }).optional(),
  RESOLUTION_QUIET_HOURS: num(0.01, 8760).default(24),
  ADMIN_TOKEN: z.string().min(16, { message: 'expected at least 16 characters' }).optional(),
  PARLEY_CONFIG: z.string().min(1).optional(),
  KNOWLEDGE_DIR: z.string().min(1).optional(),
  KNOWLEDGE_URLS: list.pipe(z.array(httpUrl).min(1)).optional(),
  API_KEYS: z
    .string()
    .transform((v, ctx) => parseApiKeys(v, ctx))
    .optional(),
  API_CORS_ORIGINS: list.pipe(z.array(z.union([z.literal('*'), httpUrl]))).optional(),
  API_MAX_QUESTION_CHARS: int(1, 1_000_000).default(4_000),
  API_TASK_TTL_HOURS: num(0.01, 8760).default(24),
} as const;

/**
 * `API_KEYS`: comma-separated `name:sha256hex[:requestsPerMinute[:tokensPerDay]]`. Only the
 * SHA-256 of each key is configured (`printf %s "$KEY" | sha256sum`); 0 or absent = no limit.
 */
function parseApiKeys(v: string, ctx: z.RefinementCtx): ApiKeySettings[] {
  const keys: ApiKeySettings[] = [];
  for (const entry of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9_-]{1,64}):([0-9a-f]{64})(?::(\d+))?(?::(\d+))?$/i.exec(entry);
    if (!m) {
      ctx.addIssue({
        code: 'custom',
        message: `entry ${keys.length + 1}: expected name:sha256hex[:requestsPerMinute[:tokensPerDay]] (a 64-character SHA-256 hex digest, never the key itself)`,
      });
      return [];
    }
    if (keys.some((k) => k.name === m[1]!.toLowerCase())) ctx.addIssue({ code: 'custom', message: `the key name "${m[1]}" appears twice` });
    keys.push({
      name: m[1]!.toLowerCase(),
      sha256: m[2]!.toLowerCase(),
      requestsPerMinute: Number(m[3] ?? 0) || undefined,
      tokensPerDay: Number(m[4] ?? 0) || undefined,
    });
  }
  if (!keys.length) ctx.addIssue({ code: 'custom', message: 'no key listed' });
  return keys;
}

type Schema = typeof schema;

/** Every variable Parley reads (`.env.example` documents each; a test checks it). */
export const ENV_VARIABLES = Object.keys(schema) as (keyof Schema)[];
type Env = { [K in keyof Schema]: z.output<Schema[K]> };

export interface LlmSettings {
  baseURL: string;
  apiKey?: string;
  /** Unset when no model is configured at all. */
  model?: string;
  fallbackModels: string[];
  contextWindow: number;
  maxOutputTokens: number;
  temperature?: number;
  /** The model accepts images with the question. */
  vision: boolean;
  connectTimeoutMs: number;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  maxRetries: number;
}

export interface SlackSettings {
  botToken: string;
  signingSecret?: string;
  appToken?: string;
  apiUrl?: string;
  command: string;
  /** Answer messages from other bots (never the bot's own). */
  allowBots?: boolean;
  /** Every `/ask` answer is private (ephemeral via response_url), not only `/ask private …`. */
  askPrivateByDefault?: boolean;
}

export interface DiscordSettings {
  token: string;
  apiUrl?: string;
  guildId?: string;
  command: string;
  replyMode: 'auto' | 'reply' | 'thread';
}

/** One API key of the HTTP API: its name (the analytics workspace), hash and limits. */
export interface ApiKeySettings {
  name: string;
  /** Lowercase hex SHA-256 of the key; the key itself is never configured. */
  sha256: string;
  requestsPerMinute?: number;
  tokensPerDay?: number;
}

export interface ApiSettings {
  keys: ApiKeySettings[];
  /** Browser origins allowed by CORS; `*` = any. Empty = no CORS headers. */
  corsOrigins: string[];
  maxQuestionChars: number;
  /** How long a task and its answer are kept in the store. */
  taskTtlMs: number;
}

export interface Config {
  llm: LlmSettings;
  assistant: { systemPrompt: string; historyTtlMs?: number; historyMaxTurns: number };
  store: { url: string };
  http: { port: number };
  /** On SIGTERM, how long replies in progress may take before they are cut short. */
  shutdownDeadlineMs: number;
  alerts: { channel?: { platform: string; channel: string }; windowMs: number; modelErrorRate: number; minCalls: number; p99LatencyMs: number };
  log: { level: string; content: boolean };
  slack?: SlackSettings;
  discord?: DiscordSettings;
  /** The HTTP API (`/api/v1`), when API_KEYS is set. */
  api?: ApiSettings;
  adminToken?: string;
  /** Handoff defaults for profiles without their own, and the quiet period after which a thread counts as resolved. */
  support: { handoff?: { destination?: string; ping?: string; webhook?: { url: string; secret?: string } }; quietPeriodMs: number };
  configFile?: string;
  knowledgeDir?: string;
  /** Sitemap URLs of docs sites to index (KNOWLEDGE_URLS). */
  knowledgeUrls?: string[];
  /** Set when the CLI filled in the bundled example docs (a console demo says so). */
  exampleKnowledge?: boolean;
}

/** Problems found in the environment, one per variable. */
export class EnvError extends ConfigError {
  readonly problems: { key: string; message: string }[];
  constructor(problems: { key: string; message: string }[]) {
    super(problems[0]!.key, problems[0]!.message);
    this.problems = problems;
    this.message = problems.map((p) => `${p.key}: ${p.message}`).join('\n');
  }
}

/** Reads and validates `env` (pass `process.env`). Throws EnvError listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: { key: string; message: string }[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, type] of Object.entries(schema)) {
    const raw = env[key];
    const value = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
    const r = (type as z.ZodType).safeParse(value);
    if (r.success) out[key] = r.data;
    else {
      const shown = value === undefined ? 'it is not set' : key.match(/TOKEN|KEY|SECRET/) ? 'got a value that does not fit' : `got "${value}"`;
      problems.push({ key, message: `${r.error.issues[0]?.message ?? 'invalid'} (${shown})` });
    }
  }
  const e = out as Env;
  if (e.SLACK_BOT_TOKEN && !e.SLACK_SIGNING_SECRET && !e.SLACK_APP_TOKEN)
    problems.push({ key: 'SLACK_SIGNING_SECRET', message: 'required with SLACK_BOT_TOKEN for HTTP mode; or set SLACK_APP_TOKEN for Socket Mode' });
  if (!e.SLACK_BOT_TOKEN && (e.SLACK_APP_TOKEN || e.SLACK_SIGNING_SECRET))
    problems.push({ key: 'SLACK_BOT_TOKEN', message: 'required when SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set (the bot token, xoxb-…)' });
  if (problems.length) throw new EnvError(problems);

  const model = e.OPENAI_MODEL ?? (e.OPENAI_API_KEY ? 'gpt-4o-mini' : undefined);
  return {
    llm: {
      baseURL: e.OPENAI_BASE_URL,
      apiKey: e.OPENAI_API_KEY,
      model,
      fallbackModels: e.OPENAI_FALLBACK_MODELS ?? [],
      contextWindow: e.OPENAI_CONTEXT_WINDOW,
      maxOutputTokens: e.OPENAI_MAX_OUTPUT_TOKENS,
      temperature: e.OPENAI_TEMPERATURE,
      vision: e.OPENAI_VISION,
      connectTimeoutMs: e.LLM_CONNECT_TIMEOUT_MS,
      firstTokenTimeoutMs: e.LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: e.LLM_IDLE_TIMEOUT_MS,
      maxRetries: e.LLM_MAX_RETRIES,
    },
    assistant: {
      systemPrompt: e.SYSTEM_PROMPT ?? DEFAULT_SYSTEM_PROMPT,
      historyTtlMs: e.HISTORY_TTL_DAYS > 0 ? e.HISTORY_TTL_DAYS * 86_400_000 : undefined,
      historyMaxTurns: e.HISTORY_MAX_TURNS,
    },
    store: { url: e.STORE_URL },
    http: { port: e.PORT },
    shutdownDeadlineMs: e.SHUTDOWN_DEADLINE_MS,
    alerts: {
      channel: e.ALERT_CHANNEL
        ? { platform: e.ALERT_CHANNEL.slice(0, e.ALERT_CHANNEL.indexOf(':')), channel: e.ALERT_CHANNEL.slice(e.ALERT_CHANNEL.indexOf(':') + 1) }
        : undefined,
      windowMs: e.ALERT_WINDOW_MINUTES * 60_000,
      modelErrorRate: e.ALERT_MODEL_ERROR_RATE,
      minCalls: e.ALERT_MIN_CALLS,
      p99LatencyMs: e.ALERT_P99_LATENCY_MS,
    },
    log: { level: e.LOG_LEVEL, content: e.LOG_CONTENT },
    slack: e.SLACK_BOT_TOKEN
      ? {
          botToken: e.SLACK_BOT_TOKEN,
          signingSecret: e.SLACK_SIGNING_SECRET,
          appToken: e.SLACK_APP_TOKEN,
          apiUrl: e.SLACK_API_URL,
          command: e.SLACK_COMMAND,
          allowBots: e.SLACK_ALLOW_BOTS,
          askPrivateByDefault: e.SLACK_ASK_PRIVATE,
        }
      : undefined,
    discord: e.DISCORD_TOKEN
      ? { token: e.DISCORD_TOKEN, apiUrl: e.DISCORD_API_URL, guildId: e.DISCORD_GUILD_ID, command: e.DISCORD_COMMAND, replyMode: e.DISCORD_REPLY_MODE }
      : undefined,
    api: e.API_KEYS
      ? {
          keys: e.API_KEYS,
          corsOrigins: e.API_CORS_ORIGINS ?? [],
          maxQuestionChars: e.API_MAX_QUESTION_CHARS,
          taskTtlMs: Math.round(e.API_TASK_TTL_HOURS * 3_600_000),
        }
      : undefined,
    adminToken: e.ADMIN_TOKEN,
    support: {
      handoff:
        e.HANDOFF_CHANNEL || e.HANDOFF_WEBHOOK_URL
          ? {
              destination: e.HANDOFF_CHANNEL,
              ping: e.HANDOFF_PING,
              webhook: e.HANDOFF_WEBHOOK_URL ? { url: e.HANDOFF_WEBHOOK_URL, secret: e.HANDOFF_WEBHOOK_SECRET } : undefined,
            }
          : undefined,
      quietPeriodMs: Math.round(e.RESOLUTION_QUIET_HOURS * 3_600_000),
    },
    configFile: e.PARLEY_CONFIG,
    knowledgeDir: e.KNOWLEDGE_DIR,
    knowledgeUrls: e.KNOWLEDGE_URLS,
  };
}

/**
 * The process environment, with values from a `.env` file in `cwd` filling in what the
 * environment does not set (the environment wins, as with `node --env-file`).
 */
export function readEnvironment(cwd: string = process.cwd()): Record<string, string | undefined> {
  const file = join(cwd, '.env');
  if (!existsSync(file)) return { ...process.env };
  const fromFile = parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  return { ...fromFile, ...process.env };
}
