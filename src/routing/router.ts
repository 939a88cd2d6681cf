import type { Feature } from '../engine/feature.js';
import type { Settings, RouteRule } from '../config/settings.js';
import type { Middleware } from '../engine/pipeline.js';
import type { Profile } from '../config/profile.js';
import type { IncomingMessage } from '../kernel/types.js';

export interface Route {
  /** The rule that matched; undefined when the default profile answers. */
  rule?: RouteRule;
  /** Index of the rule in `routing`. */
  index?: number;
  profile: Profile;
}

type Where = Pick<IncomingMessage, 'platform' | 'workspace' | 'channel' | 'command' | 'profile'>;

/**
 * A profile requested by name (validated by the adapter) answers first; then the first rule
 * whose every condition holds; otherwise the default profile.
 */
export function route(settings: Settings, where: Where, question: string): Route {
  const requested = where.profile ? settings.profiles.get(where.profile) : undefined;
  if (requested) return { profile: requested };
  for (const [index, rule] of settings.rules.entries()) {
    if (!matches(rule, where, question)) continue;
    const profile = settings.profiles.get(rule.profile);
    if (profile) return { rule, index, profile };
  }
  return { profile: settings.profiles.get(settings.defaultProfile) ?? settings.profiles.get('default')! };
}

export function matches(rule: RouteRule, where: Where, question: string): boolean {
  const m = rule.match;
  const oneOf = (allowed: string[] | undefined, value: string | undefined) =>
    !allowed || (value !== undefined && allowed.some((a) => a.toLowerCase() === value.toLowerCase()));
  if (!oneOf(m.platform, where.platform)) return false;
  if (!oneOf(m.workspace, where.workspace)) return false;
  if (!oneOf(m.channel, where.channel)) return false;
  if (!oneOf(m.command, where.command?.replace(/^\//, ''))) return false;
  if (!m.keywords && !m.regex) return true;
  const compiled = patternsOf(rule);
  if (compiled.keywords && !compiled.keywords.some((k) => k.test(question))) return false;
  if (compiled.regex && !compiled.regex.test(question)) return false;
  return true;
}

/** A rule's keywords and regex, compiled once per rule object (a reloaded config brings new ones), not per turn. */
const compiledRules = new WeakMap<RouteRule, { keywords?: RegExp[]; regex?: RegExp }>();
function patternsOf(rule: RouteRule): { keywords?: RegExp[]; regex?: RegExp } {
  let c = compiledRules.get(rule);
  if (!c) {
    const m = rule.match;
    c = { keywords: m.keywords?.map(wordPattern), regex: m.regex ? new RegExp(m.regex, 'iu') : undefined };
    compiledRules.set(rule, c);
  }
  return c;
}

/** Whole-word (or whole-phrase) pattern, ignoring case and a plural -s/-es: "invoice" matches "invoices", "bill" not "billing". */
function wordPattern(word: string): RegExp {
  const escaped = word
    .trim()
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\s+/g, '\\s+');
  return new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?:e?s)?(?![\\p{L}\\p{N}])`, 'iu');
}

/** Sets the turn's profile from the routing rules (read per turn, so a config reload applies). */
declare module '../engine/pipeline.js' {
  interface TurnState {
    /** The rule that picked the turn's profile (none: the default profile). */
    routing?: { rule?: string; profile: string };
  }
}

export function routingMiddleware(settings: () => Settings): Middleware {
  // Not async: it only hands next() on, so an answer streaming holds no frame here (issue 19).
  return (ctx, next) => {
    const r = route(settings(), ctx.message, ctx.question);
    ctx.profile = r.profile;
    ctx.state.routing = { rule: r.rule?.name, profile: r.profile.name };
    if (r.rule) ctx.log.debug({ rule: r.rule.name, profile: r.profile.name }, 'routed');
    return next();
  };
}

/** Routing as the first feature of the turn (src/features.ts). */
export function routingFeature(settings: () => Settings): Feature {
  return { name: 'routing', middleware: [routingMiddleware(settings)] };
}
