import { z } from 'zod';
import { regexSource } from './validators.js';

/**
 * Guardrail settings: one schema, used at the top level of the config file and (optionally)
 * inside each profile. Every field has a default, so `{}` parses to a safe configuration and
 * an empty config file still limits length, redacts secrets and rate-limits users.
 *
 * A profile that carries its own `guardrails` uses them instead of the top-level ones
 * (see `mergeGuardrailSettings` for field-by-field layering of a partial override).
 *
 * Keep this shape stable: the config file (issue 5) embeds it.
 */

const positiveInt = z.number().int().positive();

/** A profile's own sensitive pattern: a regex, a list of words (any language), or both. */
export const customPatternSchema = z
  .object({
    /** Shown in the placeholder, e.g. `[phone removed]`; letters, digits, spaces, `-` and `_`. */
    name: z.string().regex(/^[\p{L}\p{N} _-]{1,40}$/u, { message: 'expected 1–40 letters, digits, spaces, - or _' }),
    /** A JavaScript regex source, matched with the `u` and `g` flags (plus `flags`). */
    regex: regexSource('u').optional(),
    /** Extra flags for `regex`: `i` (ignore case), `m`, `s`. */
    flags: z
      .string()
      .regex(/^[ims]*$/, { message: 'only i, m and s are allowed' })
      .default(''),
    /** Whole words or phrases, matched ignoring case, on Unicode word boundaries. */
    words: z.array(z.string().min(1)).default([]),
  })
  .refine((p) => p.regex !== undefined || p.words.length > 0, { message: 'a pattern needs `regex` or `words`' });

const idList = z.array(z.string().min(1)).default([]);
const allowDeny = z
  .object({
    /** Empty = everyone allowed (unless denied). Non-empty = only these. */
    allow: idList,
    /** Always refused, even if allowed. */
    deny: idList,
  })
  .prefault({});

const slidingWindow = z.object({
  /** Questions allowed within the window. */
  limit: positiveInt,
  windowSeconds: positiveInt.default(60),
});

export const guardrailSettingsSchema = z
  .object({
    input: z
      .object({
        /** Longest question accepted, in characters (the merged text of one turn). */
        maxQuestionChars: positiveInt.default(4_000),
        /** Largest text attachment read as context, in bytes; larger ones are declined with the size. */
        maxAttachmentBytes: positiveInt.default(200_000),
        /** Most attachments read per message. */
        maxAttachments: positiveInt.default(5),
        /** Largest image passed to a vision-capable model, in bytes. */
        maxImageBytes: positiveInt.default(5_000_000),
      })
      .prefault({}),
    redaction: z
      .object({
        /** `redact`: replace and tell the user; `refuse`: decline the question and say why. */
        mode: z.enum(['redact', 'refuse']).default('redact'),
        /** Built-in detectors to switch off, by name (e.g. `["jwt"]`); see docs/guardrails.md. */
        disabled: z.array(z.string()).default([]),
        patterns: z.array(customPatternSchema).default([]),
      })
      .prefault({}),
    output: z
      .object({
        /** Terms (words or phrases, any language) hidden from model output, matched ignoring case. */
        blockedTerms: z.array(z.string().min(1)).default([]),
        /** What a blocked term is replaced with. */
        blockedReplacement: z.string().default('[removed]'),
      })
      .prefault({}),
    access: z
      .object({
        /** User ids; `platform:id` (e.g. `slack:U123`) limits an entry to one platform. */
        users: allowDeny,
        /** Discord role ids (or names, as the adapter reports them). */
        roles: allowDeny,
        channels: allowDeny,
        /** Slack team ids, Discord guild ids, `local` for the console. */
        workspaces: allowDeny,
        directMessages: z.boolean().default(true),
        /** Users who may run admin commands (`/parley usage @user`, budget alerts). */
        admins: idList,
        /** Roles whose members are admins. */
        adminRoles: idList,
      })
      .prefault({}),
    rateLimits: z
      .object({
        /** Questions per user per window; `null` switches the limit off. */
        perUser: slidingWindow.nullable().default({ limit: 20, windowSeconds: 60 }),
        /** Questions per channel per window; absent or `null` = no channel limit. */
        perChannel: slidingWindow.nullable().default(null),
      })
      .prefault({}),
    budgets: z
      .object({
        /** Tokens (prompt + completion) per UTC day; absent = unlimited. */
        dailyTokens: z
          .object({
            perUser: positiveInt.optional(),
            perChannel: positiveInt.optional(),
            perWorkspace: positiveInt.optional(),
          })
          .prefault({}),
        /** Spend per UTC calendar month, in the price table's currency (USD); absent = unlimited. */
        monthlyCost: z.number().positive().optional(),
        /** Fractions of a budget at which admins are told (once each per period). */
        alertAt: z.array(z.number().positive().max(1)).default([0.8, 1]),
      })
      .prefault({}),
    privacy: z
      .object({
        /** Days the usage ledger keeps per-call rows; aggregates are kept without identity. */
        ledgerRetentionDays: positiveInt.default(90),
      })
      .prefault({}),
  })
  .prefault({});

export type GuardrailSettings = z.output<typeof guardrailSettingsSchema>;
/** What a config file may write: every field optional. */
export type GuardrailSettingsInput = z.input<typeof guardrailSettingsSchema>;
export type CustomPattern = z.output<typeof customPatternSchema>;

export function defaultGuardrailSettings(): GuardrailSettings {
  return guardrailSettingsSchema.parse({});
}

/**
 * Layers a profile's partial guardrails over the top-level ones, section by section:
 * a section the profile writes replaces that section's fields it names; the rest is inherited.
 * Both inputs are raw (unparsed) config values; the result is parsed and complete.
 */
export function mergeGuardrailSettings(top: GuardrailSettingsInput | undefined, profile: GuardrailSettingsInput | undefined): GuardrailSettings {
  const base = (top ?? {}) as Record<string, unknown>;
  const over = (profile ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base };
  for (const [section, value] of Object.entries(over)) {
    const inherited = base[section];
    merged[section] = isPlainObject(value) && isPlainObject(inherited) ? { ...inherited, ...value } : value;
  }
  return guardrailSettingsSchema.parse(merged);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
