import { BackgroundWork } from '../kernel/background.js';
import type { Logger } from '../kernel/logger.js';
import type { Middleware, TurnContext, TurnResult } from '../engine/pipeline.js';
import type { IncomingMessage } from '../kernel/types.js';
import type { HistoryStore } from '../store/history.js';
import type { Store } from '../store/store.js';
import { checkAccess } from './access.js';
import { Budgets, BUDGET_WORDS, formatUsedOf, type AdminNotifier } from './budgets.js';
import { guardrailCommands } from './commands.js';
import type { Feature, ParleyCommand } from '../engine/feature.js';
import { attachmentContext, checkInput } from './input.js';
import { costMicros, scopesOf, UsageLedger, type PriceOf } from './ledger.js';
import { createOutputTransform } from './output.js';
import { describeFindings, detectorsFor, redact, type Detector, type Finding } from './redact.js';
import { declinePrivately, REPLIES } from './replies.js';
import { defaultGuardrailSettings, type GuardrailSettings } from '../config/guardrails.js';

export { guardrailSettingsSchema, defaultGuardrailSettings, mergeGuardrailSettings, type GuardrailSettings } from '../config/guardrails.js';
export { neutralizeMassMentions, createOutputTransform } from './output.js';
export type { PriceOf } from './ledger.js';
export type { AdminNotifier, BudgetAlert } from './budgets.js';

export interface GuardrailDeps {
  store: Store;
  /** The engine's history, for `/parley forget`. */
  history: HistoryStore;
  log: Logger;
  /**
   * Top-level settings; a profile's own `guardrails` replace them for its turns. Default: all
   * defaults. A function is read on every turn (a reloaded config file applies at once).
   */
  settings?: GuardrailSettings | (() => GuardrailSettings | undefined);
  /** Every profile's settings, so the output filter blocks every profile's terms (the renderer does not know the turn's profile). */
  allSettings?: GuardrailSettings[] | (() => GuardrailSettings[]);
  /** Model prices per million tokens (issue 5's config file); unknown models cost nothing in budgets. */
  priceOf?: PriceOf;
  /** Whether a model reads images; default none. */
  isVisionModel?: (model: string) => boolean;
  /** Budget alerts for admins; always logged too. */
  notifyAdmins?: AdminNotifier;
  /** How long conversations are kept (HISTORY_TTL_DAYS), for the per-user conversation index. */
  historyTtlMs?: number;
  /** Other records holding a person's words (the review queue), cleared by `/parley forget`. */
  forgetElsewhere?: (platform: string, userId: string) => Promise<number>;
  now?: () => number;
}

export interface Guardrails {
  /** Middleware, in order: access, rate limits, input limits, redaction, budgets. */
  middleware: Middleware[];
  /** `/parley usage` and `/parley forget`. */
  commands: ParleyCommand[];
  /** Records every model call in the ledger and budgets. */
  onTurn: (result: TurnResult) => Promise<unknown>;
  /** Blocked terms, then mass mentions, on every text shown. */
  outputTransform: (text: string) => string;
  /** Resolves when every recording started so far has finished. */
  idle(): Promise<void>;
  ledger: UsageLedger;
  budgets: Budgets;
}

/** Sources of turns that are never stored in history (so `/parley forget` need not look for them). */
const NOT_STORED = new Set(['error', 'command', 'declined', 'help', 'rate_limited', 'budget_spent']);

/** Builds every guardrail over one store. See docs/guardrails.md. */
export function createGuardrails(d: GuardrailDeps): Guardrails {
  const defaults = defaultGuardrailSettings();
  const topOf = (): GuardrailSettings => (typeof d.settings === 'function' ? d.settings() : d.settings) ?? defaults;
  const allOf = (): GuardrailSettings[] => (typeof d.allSettings === 'function' ? d.allSettings() : d.allSettings) ?? [];
  const now = d.now ?? Date.now;
  const isVision = d.isVisionModel ?? (() => false);
  const ledger = new UsageLedger(d.store);
  const budgets = new Budgets(d.store, d.log.child({ component: 'budgets' }), d.notifyAdmins);
  const pending = new BackgroundWork((err) => d.log.error({ err: err instanceof Error ? err.message : String(err) }, 'recording usage failed'));
  // What each turn ran under, for the recording after it (TurnResult names only the profile).
  const turnInfo = new WeakMap<IncomingMessage, { settings: GuardrailSettings; model?: string }>();
  const detectorCache = new WeakMap<GuardrailSettings['redaction'], Detector[]>();

  const settingsOf = (ctx: TurnContext): GuardrailSettings => ctx.profile.guardrails ?? topOf();
  const detectors = (s: GuardrailSettings) => {
    let list = detectorCache.get(s.redaction);
    if (!list) detectorCache.set(s.redaction, (list = detectorsFor(s.redaction)));
    return list;
  };

  const access: Middleware = async (ctx, next) => {
    const decision = checkAccess(ctx.message, settingsOf(ctx).access);
    if (decision.allowed) return next();
    ctx.log.info({ reason: decision.reason, user: ctx.message.user.id }, 'access refused');
    await declinePrivately(ctx, decision.reason === 'direct_messages_off' ? REPLIES.noDirectMessages : REPLIES.noAccess);
  };

  /**
   * Store outages: like history, a limit that cannot be read costs the check, not the answer
   * (logged as an error). Access, input limits and redaction need no store and always apply.
   */
  const failOpen = (what: string, inner: Middleware): Middleware => async (ctx, next) => {
    let passed = false;
    try {
      await inner(ctx, async () => {
        passed = true;
      });
    } catch (err) {
      ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, `${what} could not be checked; answering anyway`);
      passed = ctx.answer === undefined;
    }
    if (passed) await next();
  };

  const rateLimits: Middleware = async (ctx, next) => {
    const { perUser, perChannel } = settingsOf(ctx).rateLimits;
    const s = scopesOf(ctx.message);
    const t = now();
    if (perUser) {
      const hit = await d.store.hitWindow(`rate:user:${s.user}`, perUser.limit, perUser.windowSeconds * 1000, t);
      if (!hit.allowed) {
        ctx.log.info({ scope: 'user', retryAfterMs: hit.retryAfterMs }, 'rate limited');
        return declinePrivately(ctx, REPLIES.rateLimitedUser(perUser.limit, perUser.windowSeconds, hit.retryAfterMs), 'rate_limited');
      }
    }
    if (perChannel) {
      const hit = await d.store.hitWindow(`rate:channel:${s.channel}`, perChannel.limit, perChannel.windowSeconds * 1000, t);
      if (!hit.allowed) {
        ctx.log.info({ scope: 'channel', retryAfterMs: hit.retryAfterMs }, 'rate limited');
        return declinePrivately(ctx, REPLIES.rateLimitedChannel(perChannel.limit, perChannel.windowSeconds, hit.retryAfterMs), 'rate_limited');
      }
    }
    await next();
  };

  const inputLimits: Middleware = async (ctx, next) => {
    if (await checkInput(ctx, settingsOf(ctx).input, isVision)) await next();
  };

  const redaction: Middleware = async (ctx, next) => {
    const s = settingsOf(ctx);
    const list = detectors(s);
    const question = redact(ctx.question, list);
    const files = (ctx.state.attachments ?? []).map((a) => ({ name: a.name, r: redact(a.text, list) }));
    const findings: Finding[] = [...question.findings, ...files.flatMap((f) => f.r.findings)];
    if (findings.length) {
      const what = describeFindings(findings);
      ctx.log.info({ findings: findings.map((f) => ({ detector: f.detector, count: f.count })), mode: s.redaction.mode }, 'sensitive data found');
      if (s.redaction.mode === 'refuse') return declinePrivately(ctx, REPLIES.refusedSensitive(what));
      ctx.notices.push(REPLIES.redacted(what));
    }
    ctx.question = question.text;
    for (const f of files) ctx.context.push(attachmentContext({ name: f.name, text: f.r.text }));
    await next();
  };

  const budgetCheck: Middleware = async (ctx, next) => {
    const s = settingsOf(ctx);
    turnInfo.set(ctx.message, { settings: s, model: ctx.profile.model });
    // Calls of this process still being recorded when this check began count too (a snapshot:
    // under steady traffic, waiting for "no recording at all" could wait indefinitely).
    await pending.settled();
    const spent = await budgets.spent(ctx.message, s.budgets, now());
    if (spent) {
      ctx.log.info({ budget: spent.budget, used: spent.used, limit: spent.limit }, 'budget spent; no model call');
      return declinePrivately(
        ctx,
        REPLIES.budgetSpent(BUDGET_WORDS[spent.budget], formatUsedOf(spent.budget, spent.used, spent.limit), spent.resetsInMs),
        'budget_spent',
      );
    }
    await next();
  };

  async function record(result: TurnResult, info: { settings: GuardrailSettings; model?: string }): Promise<void> {
    const m = result.message;
    const user = scopesOf(m).user;
    if (!NOT_STORED.has(result.source)) await ledger.noteConversation(user, result.conversation, d.historyTtlMs);
    const called = result.model !== undefined || (result.error !== undefined && result.error !== 'llm_not_configured');
    if (!called) return;
    const model = result.model ?? info.model ?? 'unknown';
    const promptTokens = result.usage?.promptTokens ?? 0;
    const completionTokens = result.usage?.completionTokens ?? 0;
    const cost = costMicros(d.priceOf, model, promptTokens, completionTokens);
    if (cost === undefined && d.priceOf) d.log.warn({ model }, 'model has no price; its cost counts as 0');
    await ledger.record(
      {
        at: result.startedAt,
        platform: m.platform,
        workspace: m.workspace,
        channel: m.channel,
        user: m.user.id,
        profile: result.profile,
        model,
        promptTokens,
        completionTokens,
        costMicros: cost,
        latencyMs: result.finishedAt - result.startedAt,
        firstTokenMs: result.firstTokenAt === undefined ? undefined : result.firstTokenAt - result.startedAt,
        outcome: result.error ?? 'ok',
      },
      info.settings.privacy.ledgerRetentionDays * 86_400_000,
    );
    await budgets.add(m, promptTokens + completionTokens, cost ?? 0, info.settings.budgets, now());
  }

  const onTurn = (result: TurnResult) => {
    const info = turnInfo.get(result.message) ?? { settings: topOf() };
    return pending.track(record(result, info));
  };

  async function idle(): Promise<void> {
    await pending.idle();
  }

  // Rebuilt only when the settings objects change (a config reload), not per call.
  let transform: { key: GuardrailSettings[]; fn: (text: string) => string } | undefined;
  const outputTransform = (text: string): string => {
    const all = [topOf(), ...allOf()];
    if (!transform || transform.key.length !== all.length || transform.key.some((s, i) => s !== all[i])) {
      transform = {
        key: all,
        fn: createOutputTransform({ blockedTerms: all.flatMap((s) => s.output.blockedTerms), blockedReplacement: all[0]!.output.blockedReplacement }),
      };
    }
    return transform.fn(text);
  };

  return {
    middleware: [access, failOpen('rate limits', rateLimits), inputLimits, redaction, failOpen('budgets', budgetCheck)],
    commands: guardrailCommands(settingsOf, { ledger, budgets, history: d.history, now, forgetElsewhere: d.forgetElsewhere }),
    onTurn,
    outputTransform,
    idle,
    ledger,
    budgets,
  };
}

/** The guardrails as one feature: checks before the model, usage recording after, the output filter. */
export function guardrailsFeature(g: Guardrails): Feature {
  return { name: 'guardrails', middleware: g.middleware, commands: g.commands, onTurn: g.onTurn, outputTransform: g.outputTransform };
}
