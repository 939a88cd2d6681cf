import { ID_DETECTORS } from './redact-ids.js';
import { KEYWORD_DETECTORS } from './redact-keywords.js';
import type { CustomPattern, GuardrailSettings } from '../config/guardrails.js';

/**
 * Finds sensitive data in text before it leaves the process: provider API keys and tokens,
 * bearer tokens, private key blocks, passwords and codes named in English or Chinese
 * (redact-keywords.ts), national ID numbers with their check rules (redact-ids.ts), verification
 * codes, payment cards (Luhn-checked, brand prefix and length checked, so order numbers and ids
 * survive) and a profile's own patterns. Each finding is replaced by a placeholder naming its kind, so the
 * model (and the stored history) still sees that *something* was there.
 *
 * Detectors run in order on the progressively redacted text; placeholders contain nothing a
 * later detector matches.
 */

export type { Detector } from './detector.js';
import type { Detector } from './detector.js';

export interface Finding {
  detector: string;
  label: string;
  count: number;
}

export interface RedactionResult {
  text: string;
  findings: Finding[];
}

const placeholder = (what: string) => `[${what} removed]`;

/** A detector replacing a whole regex match (or, with `group`, only that capture group). */
function regexDetector(name: string, label: string, what: string, re: RegExp, group?: number, accept?: (m: RegExpExecArray) => boolean): Detector {
  return {
    name,
    label,
    apply(text) {
      let count = 0;
      const out = text.replace(re, (...args: unknown[]) => {
        const match = args[0] as string;
        const groups = args.slice(1, -2) as (string | undefined)[];
        const exec = Object.assign([match, ...groups], { index: 0, input: text }) as unknown as RegExpExecArray;
        if (accept && !accept(exec)) return match;
        count++;
        if (group === undefined) return placeholder(what);
        // Keep the prefix (e.g. "Bearer ", "password: ") so the sentence still reads.
        const secret = groups[group - 1] ?? '';
        const at = match.lastIndexOf(secret);
        return match.slice(0, at) + placeholder(what) + match.slice(at + secret.length);
      });
      return { text: out, count };
    },
  };
}

// A code needs its context: "login code 1234" is a secret, "login failed since 2024" is not.
// Between the name and the code no clause break: "login code never arrived, ticket 88213" is a ticket.
// A PIN has its own, tighter rule in redact-keywords.ts ("pin the 2024 roadmap" is not one).
const CODE_CONTEXT = String.raw`(?:verification|verify|confirmation|security|one[- ]time|login|log-in|sign[- ]?in|authentication|auth|reset|sms|access|2fa|mfa)\s*(?:code|pin|passcode|password)|otp|2fa|mfa|passcode|tan`;

/** Built-in detectors, most specific first. */
export const BUILTIN_DETECTORS: Detector[] = [
  regexDetector(
    'private_key',
    'a private key',
    'private key',
    /-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|$)/g,
  ),
  regexDetector('anthropic', 'an API key', 'API key', /\bsk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_-]{20,}/g),
  // Real keys mix letters and digits; "sk-the-quick-brown-fox-jumps" is prose.
  regexDetector(
    'openai',
    'an API key',
    'API key',
    /\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}/g,
    undefined,
    (m) => /\d/.test(m[0]) && /[A-Za-z]{2}/.test(m[0].slice(3)),
  ),
  regexDetector('stripe', 'an API key', 'API key', /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}/g),
  regexDetector('aws_access_key', 'an AWS key', 'AWS key', /\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}\b/g),
  regexDetector('aws_secret', 'an AWS secret', 'AWS secret', /\b(aws.{0,20}?(?:secret|key).{0,20}?[=:"'\s]+)([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/gi, 2),
  regexDetector('github', 'a GitHub token', 'GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b/g),
  regexDetector('gitlab', 'a GitLab token', 'GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}/g),
  regexDetector(
    'slack',
    'a Slack token',
    'Slack token',
    /\b(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})|https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/g,
  ),
  regexDetector('discord', 'a Discord token', 'Discord token', /\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b/g),
  regexDetector('google', 'a Google API key', 'Google API key', /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g),
  regexDetector('jwt', 'a token', 'token', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g),
  regexDetector('bearer', 'a token', 'token', /\b(bearer|token)\s+([A-Za-z0-9._~+/-]{16,}=*)/gi, 2, (m) => /\d/.test(m[2]!) && /[A-Za-z]/.test(m[2]!)),
  regexDetector('url_credentials', 'a password', 'password', /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)([^\s/@]+)(@)/gi, 2),
  ...ID_DETECTORS,
  ...KEYWORD_DETECTORS,
  regexDetector(
    'verification_code',
    'a verification code',
    'code',
    new RegExp(String.raw`(\b(?:${CODE_CONTEXT})\b[^\d\n,;.!?]{0,25}?)(\d{4}[ -]\d{4}|\d{3}[ -]?\d{3}|\d(?: \d){3,7}|\d{4,8})\b`, 'giu'),
    2,
  ),
  regexDetector(
    'verification_code_after',
    'a verification code',
    'code',
    /\b(\d{4,8})(\s+is\s+your\s+(?:\w+\s+){0,3}(?:code|pin|otp|password|passcode))\b/gi,
    1,
  ),
  {
    name: 'card',
    label: 'a card number',
    apply(text) {
      let count = 0;
      // Digit runs of 13–19 digits, optionally grouped by single spaces or dashes; not inside
      // a platform mention (<@123…>) or glued to other digits, letters or decimal points.
      const out = text.replace(/(?<![\d<@#&/A-Za-z]|\d[.,])\d(?:[ -]?\d){12,18}(?![\dA-Za-z]|[.,]\d)/g, (match) => {
        const digits = match.replace(/[ -]/g, '');
        const grouped = digits.length !== match.length;
        if (!grouped && digits.length > 16) return match; // long bare runs are ids (snowflakes), not cards
        if (grouped && !/^\d+(?:([ -])\d+)(?:\1\d+)*$/.test(match)) return match; // mixed separators
        if (!isCardNumber(digits)) return match;
        count++;
        return placeholder('card number');
      });
      return { text: out, count };
    },
  },
];

/** Luhn checksum plus a brand prefix and length that a real card could have. */
export function isCardNumber(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  if (!luhn(digits)) return false;
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p4 === 6011 || p2 === 65 || (p6 >= 644000 && p6 <= 649999) || (p6 >= 622126 && p6 <= 622925)) return n >= 16; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16; // JCB
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p4 >= 3000 && p4 <= 3059) || p4 === 3095) return n >= 14; // Diners
  if (p2 === 62) return n >= 16; // UnionPay
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 13; // Maestro
  return false;
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// Scripts written without spaces between words: a configured word there has no word boundary.
const NO_SPACE_SCRIPTS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A profile's pattern as a detector: its regex (with its flags) and its words (whole words, ignoring case). */
export function customDetector(p: CustomPattern): Detector {
  const parts: Detector[] = [];
  const name = `custom:${p.name}`;
  const label = `a ${p.name}`;
  if (p.regex) parts.push(regexDetector(name, label, p.name, new RegExp(p.regex, `gu${p.flags}`)));
  if (p.words.length) {
    const words = [...p.words].sort((a, b) => b.length - a.length);
    const bounded = words.filter((w) => !NO_SPACE_SCRIPTS.test(w)).map(escapeRegex);
    const unbounded = words.filter((w) => NO_SPACE_SCRIPTS.test(w)).map(escapeRegex);
    const sources: string[] = [];
    if (bounded.length) sources.push(`(?<![\\p{L}\\p{N}_])(?:${bounded.join('|')})(?![\\p{L}\\p{N}_])`);
    if (unbounded.length) sources.push(`(?:${unbounded.join('|')})`);
    parts.push(regexDetector(name, label, p.name, new RegExp(sources.join('|'), 'giu')));
  }
  return {
    name,
    label,
    apply(text) {
      let count = 0;
      for (const d of parts) {
        const r = d.apply(text);
        text = r.text;
        count += r.count;
      }
      return { text, count };
    },
  };
}

/** The detectors a redaction setting enables, built-in first, then the profile's own. */
export function detectorsFor(settings: GuardrailSettings['redaction']): Detector[] {
  const off = new Set(settings.disabled);
  return [...BUILTIN_DETECTORS.filter((d) => !off.has(d.name)), ...settings.patterns.map(customDetector)];
}

export function redact(text: string, detectors: readonly Detector[]): RedactionResult {
  const findings: Finding[] = [];
  let current = text;
  for (const d of detectors) {
    const r = d.apply(current);
    if (r.count) {
      current = r.text;
      const prev = findings.find((f) => f.label === d.label);
      if (prev) prev.count += r.count;
      else findings.push({ detector: d.name, label: d.label, count: r.count });
    }
  }
  return { text: current, findings };
}

/** "an API key and a card number" */
export function describeFindings(findings: readonly Finding[]): string {
  const labels = [...new Set(findings.map((f) => f.label))];
  if (labels.length <= 1) return labels[0] ?? 'sensitive data';
  return `${labels.slice(0, -1).join(', ')} and ${labels.at(-1)}`;
}
