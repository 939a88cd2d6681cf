import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { httpUrl, regexSource } from './validators.js';
import { ConfigError, describe } from '../kernel/errors.js';
import { guardrailSettingsSchema } from './guardrails.js';
import { issueToConfigError, parseYaml } from './yaml.js';

/**
 * `parley.config.yaml`: providers, models, profiles, routing rules and knowledge sources.
 * Secrets stay in the environment: a provider names the variable holding its key.
 * The same zod definitions validate the file (errors name the key and its line) and
 * generate `schema/parley.config.schema.json` for editor completion.
 */

const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'expected a name of letters, digits, _ . or -' });
const positiveInt = z.number().int().positive();
const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

export const providerSchema = z
  .object({
    /** OpenAI-compatible base URL, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`. */
    baseUrl: httpUrl.describe('OpenAI-compatible base URL, e.g. https://api.openai.com/v1'),
    /** NAME of the environment variable holding the key (never the key itself); none for local servers. */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'expected an environment variable name such as OPENAI_API_KEY' })
      .optional()
      .describe('NAME of the environment variable holding the key (never the key itself)'),
    connectTimeoutMs: positiveInt.optional(),
    firstTokenTimeoutMs: positiveInt.optional().describe('From the response start to the first token (local servers read long prompts slowly)'),
    idleTimeoutMs: positiveInt.optional(),
    maxRetries: z.number().int().min(0).max(10).optional(),
  })
  .strict();

export const modelSchema = z
  .object({
    provider: name.describe('A provider defined under `providers`'),
    /** The provider's name for the model when it differs from this entry's key. */
    id: z.string().min(1).optional().describe("The provider's id for the model when it differs from this entry's key"),
    contextWindow: z.number().int().min(256).default(128_000),
    maxOutputTokens: z.number().int().min(16).default(1_024),
    /** USD per million tokens. */
    price: z
      .object({ input: z.number().min(0), output: z.number().min(0) })
      .strict()
      .optional()
      .describe('USD per million input / output tokens'),
    /** Models tried in order (on any provider) when this one fails before its first token. */
    fallbacks: z.array(z.string().min(1)).default([]).describe('Models tried in order (on any provider) when this one fails before its first token'),
    /** Accepts images with the question (only such models are sent images). */
    vision: z.boolean().default(false).describe('Whether the model accepts images (only such models are sent images)'),
    /** `o200k` for OpenAI's models (counted exactly); `other` (the default off api.openai.com) is counted conservatively. */
    tokenizer: z
      .enum(['o200k', 'other'])
      .optional()
      .describe("The model's tokenizer: o200k (OpenAI's models) or other (counted conservatively; default off api.openai.com)"),
    /** Characters per token the model's tokenizer averages, when known (a floor for prompt counts). */
    charsPerToken: z.number().positive().max(20).optional().describe("Characters per token the model's tokenizer averages, when known"),
  })
  .strict();

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'expected an environment variable name such as HANDOFF_WEBHOOK_SECRET' });

/** Where "Talk to a human" goes for a profile (issue 6). */
export const handoffSchema = z
  .object({
    /** `platform:channel`, e.g. `slack:C0123ABCD` or `discord:123456789012345678`. */
    destination: z
      .string()
      .regex(/^[a-z][a-z0-9-]*:[A-Za-z0-9_-]+$/, { message: 'expected platform:channel, e.g. slack:C0123ABCD' })
      .optional(),
    /** The one group (Slack user group id `S…`) or role (Discord role id) pinged; nobody else is. */
    ping: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional(),
    /** Also POSTs the handoff as JSON here, signed with HMAC-SHA256 when `secretEnv` is set. */
    webhook: z.object({ url: httpUrl, secretEnv: envName.optional() }).strict().optional(),
    /** Grounded profiles: offer a human instead of "I don't know" (default true). */
    lowConfidenceOffer: z.boolean().default(true),
  })
  .strict();

export const profileSchema = z
  .object({
    systemPrompt: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    temperature: z.number().min(0).max(2).optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: z.number().int().optional(),
    maxOutputTokens: z.number().int().min(16).optional(),
    /** Knowledge source names; absent = every source, `[]` = none. */
    knowledge: z.array(name).optional().describe('Knowledge source names; absent = every source, [] = none'),
    answerMode: z
      .enum(['grounded', 'general'])
      .default('general')
      .describe('grounded: only from the knowledge base, else say so; general: knowledge when relevant'),
    /** Overrides the top-level guardrails section by section. */
    guardrails: guardrailSettingsSchema.optional(),
    /** Human handoff: escalation channel, who is pinged, optional webhook. */
    handoff: handoffSchema.optional(),
  })
  .strict();

export const matchSchema = z
  .object({
    platform: oneOrMany.optional(),
    /** Slack team id, Discord guild id, `local` for the console. */
    workspace: oneOrMany.optional(),
    channel: oneOrMany.optional(),
    /** Slash command without the slash, e.g. `legal`. */
    command: oneOrMany.optional(),
    /** Any of these words or phrases in the question (whole words, ignoring case). */
    keywords: z.array(z.string().min(1)).min(1).optional().describe('Any of these words or phrases in the question (whole words, ignoring case)'),
    /** A JavaScript regex tested on the question, ignoring case. */
    regex: regexSource('iu').optional().describe('A JavaScript regex tested on the question, ignoring case'),
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z.string().min(1).optional(),
    /** Every condition given must hold; a list matches any of its values. `{}` matches everything. */
    match: matchSchema.describe('Every condition given must hold; a list matches any of its values'),
    profile: name,
  })
  .strict();

export const knowledgeSourceSchema = z
  .object({
    /** Folder of pages (Markdown, text, HTML, PDF) and FAQ files (`*.yaml`), relative to the config file. */
    path: z.string().min(1).optional().describe('Folder of pages (Markdown, text, HTML, PDF) and FAQ files (*.yaml), relative to the config file'),
    /** A docs site by its sitemap: every page it lists is fetched, cached in the store and re-checked. */
    sitemap: httpUrl
      .optional()
      .describe("A docs site's sitemap URL: its pages are fetched (robots.txt obeyed), cached in the store and re-checked on a schedule"),
    /** How often a sitemap source is re-checked (conditional requests: unchanged pages cost a 304). */
    refreshMinutes: z.number().int().min(1).max(10_080).default(360).describe('Minutes between re-checks of a sitemap source (ETag/Last-Modified)'),
    /** Public docs URL: citations link to `url/<page>#<section>` instead of the file path. */
    url: httpUrl.optional(),
  })
  .strict()
  .refine((s) => (s.path === undefined) !== (s.sitemap === undefined), { message: 'expected either path (a folder) or sitemap (a URL), not both' });

export const knowledgeSchema = z
  .object({
    sources: z.record(name, knowledgeSourceSchema).default({}),
    /** Hybrid ranking: embeddings from this provider's `/embeddings`, cached by content hash. */
    embeddings: z
      .object({ provider: name, model: z.string().min(1) })
      .strict()
      .optional(),
    topK: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(5)
      .describe('Passages sent to the model (5 learnt on the tune half of examples/eval/customers.yaml: the fact is often in a neighbouring section)'),
    threshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.15)
      .describe(
        'Least IDF-weighted share of the question the best passage must match for the best few passages to be sent to the model (learnt on examples/eval/customers.yaml, tune half)',
      ),
    scoreRatio: z.number().min(0).max(1).default(0.3).describe("Passages under this fraction of the best passage's score are not sent"),
    quoteThreshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.4)
      .describe('Without a model, least IDF-weighted share of the question the quoted passages must match together to be quoted'),
    quoteMinScore: z
      .number()
      .min(0)
      .default(15)
      .describe('Without a model, least BM25 score of the best passage to be quoted (a match on one word in passing scores low)'),
    quoteMargin: z
      .number()
      .min(1)
      .default(3)
      .describe(
        "Without a model, how far the best page's score must lead the next page's for the quote to show the best page alone; closer, the next page's best passage is quoted too",
      ),
    embeddingThreshold: z.number().min(0).max(1).default(0.5),
    faqThreshold: z.number().min(0.5).max(1).default(0.8).describe('Least FAQ similarity to answer from the FAQ without a model'),
    contextTurns: z.number().int().min(0).max(10).default(2),
    rewrite: z
      .object({
        enabled: z
          .union([z.literal('auto'), z.boolean()])
          .default('auto')
          .describe(
            'auto: when a model serves the profile, follow-ups in a thread and questions retrieval is not confident about are rewritten into a standalone search query (one short call, cached); true: every question; false: never',
          ),
        model: z.string().min(1).optional().describe("Model for the rewrite (a small, fast one); the profile's model when absent"),
        timeoutMs: z.number().int().min(100).max(30_000).default(3_000).describe('After this, retrieval goes on with the question as asked'),
      })
      .strict()
      .prefault({})
      .describe("Query rewriting by the model; its passages are fused with the question's own, never replace them"),
    cacheTtlSeconds: z.number().int().min(0).default(86_400).describe('Lifetime of cached answers; 0 = no cache'),
    watch: z.boolean().default(true),
    chunk: z
      .object({ maxChars: z.number().int().min(200).default(1_500), minChars: z.number().int().min(0).default(120) })
      .strict()
      .prefault({}),
  })
  .strict();

/** The review queue (issue 12): which answers are queued, where corrections are saved. */
export const reviewSchema = z
  .object({
    groundednessThreshold: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe('Model answers whose groundedness (share of sentences the passages back) is under this go to the review queue'),
    faqFile: z
      .string()
      .regex(/^[\w.-]+(?:\/[\w.-]+)*\.ya?ml$/, 'expected a relative path ending in .yaml or .yml')
      .refine((p) => !p.split('/').includes('..'), 'must stay inside the knowledge folder')
      .default('reviewed-faq.yaml')
      .describe("FAQ file, inside the profile's knowledge folder, where corrected answers are saved"),
    retentionDays: z.number().int().min(1).max(400).default(90).describe('How long queued answers are kept'),
  })
  .strict();

export const configFileSchema = z
  .object({
    $schema: z.string().optional(),
    providers: z.record(name, providerSchema).default({}),
    models: z.record(z.string().min(1), modelSchema).default({}),
    profiles: z.record(name, profileSchema).default({}),
    /** Profile used when no routing rule matches. */
    defaultProfile: name.default('default'),
    /** First match wins. */
    routing: z.array(ruleSchema).default([]).describe('Routing rules; the first match wins'),
    knowledge: knowledgeSchema.prefault({}),
    /** Guardrail defaults for every profile (issue 7). */
    guardrails: guardrailSettingsSchema.optional(),
    /** Review queue (issue 12). */
    review: reviewSchema.prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const providers = Object.keys(c.providers);
    const models = Object.keys(c.models);
    // Without providers in the file, models are served by the environment's provider.
    const modelKnown = (m: string) => providers.length === 0 || models.includes(m);
    for (const [m, def] of Object.entries(c.models)) {
      if (providers.length && !providers.includes(def.provider))
        issue(['models', m, 'provider'], `unknown provider "${def.provider}" (defined: ${list(providers)})`);
      def.fallbacks.forEach((f, i) => {
        if (!modelKnown(f)) issue(['models', m, 'fallbacks', i], `unknown model "${f}" (defined: ${list(models)})`);
      });
    }
    for (const [p, def] of Object.entries(c.profiles)) {
      if (def.model && !modelKnown(def.model)) issue(['profiles', p, 'model'], `unknown model "${def.model}" (defined: ${list(models)})`);
      def.knowledge?.forEach((k, i) => {
        if (!(k in c.knowledge.sources))
          issue(['profiles', p, 'knowledge', i], `unknown knowledge source "${k}" (defined: ${list(Object.keys(c.knowledge.sources))})`);
      });
    }
    const profiles = Object.keys(c.profiles);
    // `default` always exists (built from the environment when the file does not define it).
    const profileKnown = (p: string) => p === 'default' || profiles.includes(p);
    if (!profileKnown(c.defaultProfile)) issue(['defaultProfile'], `unknown profile "${c.defaultProfile}" (defined: ${list(profiles)})`);
    c.routing.forEach((r, i) => {
      if (!profileKnown(r.profile)) issue(['routing', i, 'profile'], `unknown profile "${r.profile}" (defined: ${list(profiles)})`);
    });
    const rewriteModel = c.knowledge.rewrite.model;
    if (rewriteModel && !modelKnown(rewriteModel)) issue(['knowledge', 'rewrite', 'model'], `unknown model "${rewriteModel}" (defined: ${list(models)})`);
    if (c.knowledge.embeddings && providers.length && !providers.includes(c.knowledge.embeddings.provider))
      issue(['knowledge', 'embeddings', 'provider'], `unknown provider "${c.knowledge.embeddings.provider}" (defined: ${list(providers)})`);
  });

export type ConfigFile = z.output<typeof configFileSchema>;

function list(names: string[]): string {
  return names.length ? names.join(', ') : 'none';
}

export interface LoadedConfigFile {
  path: string;
  config: ConfigFile;
  /** The file as written (guardrails are layered from the raw values). */
  raw: Record<string, unknown>;
  /** Environment variables the file refers to (provider keys), resolved here. */
  secrets: Record<string, string | undefined>;
  /** Problems that do not stop Parley (a provider key variable that is not set). */
  warnings: string[];
}

/**
 * Reads and validates the config file. Throws ConfigError naming the key path and line,
 * e.g. `profiles.billing.model: unknown model "gpt-5" (parley.config.yaml line 14)`.
 * `env` supplies the provider keys named by `apiKeyEnv` (pass `readEnvironment()`).
 */
export function loadConfigFile(path: string, env: Record<string, string | undefined>, text?: string): LoadedConfigFile {
  let source = text;
  if (source === undefined) {
    try {
      source = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError('PARLEY_CONFIG', `cannot read ${path}: ${describe(err)}`);
    }
  }
  const located = parseYaml(source, path);
  const r = configFileSchema.safeParse(located.value);
  if (!r.success) throw issueToConfigError(r.error, located, path);
  const secrets: Record<string, string | undefined> = {};
  const warnings: string[] = [];
  for (const [p, def] of Object.entries(r.data.providers)) {
    if (!def.apiKeyEnv) continue;
    const value = env[def.apiKeyEnv]?.trim();
    if (value) secrets[def.apiKeyEnv] = value;
    else {
      // Not fatal: the provider's models count as unavailable (fallbacks, then degraded answers from knowledge).
      const line = located.lineOf(['providers', p, 'apiKeyEnv']);
      warnings.push(
        `providers.${p}.apiKeyEnv: environment variable ${def.apiKeyEnv} is not set; models on "${p}" are unavailable (${path}${line ? ` line ${line}` : ''})`,
      );
    }
  }
  for (const def of Object.values(r.data.profiles)) {
    const secretEnv = def.handoff?.webhook?.secretEnv;
    if (secretEnv && env[secretEnv]?.trim()) secrets[secretEnv] = env[secretEnv]!.trim();
    else if (secretEnv) warnings.push(`handoff webhook secret ${secretEnv} is not set; webhooks are sent unsigned`);
  }
  return { path, config: r.data, raw: (located.value ?? {}) as Record<string, unknown>, secrets, warnings };
}

/** The JSON Schema of the config file, from the same zod definitions (what editors complete with). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'Parley configuration (parley.config.yaml)' };
}
