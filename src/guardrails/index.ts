import { BackgroundWork } from '../kernel/background.js';
import type { Logger } from '../kernel/logger.js';
import type { Middleware, TurnContext, TurnResult } from '../engine/pipeline.js';
import type { IncomingMessage, Usage } from '../kernel/types.js';
import type { HistoryStore } from '../store/history.js';
import type { Store } from '../store/store.js';
import { checkAccess } from './access.js';
import { Budgets, BUDGET_WORDS, formatUsedOf, type AdminNotifier, type BudgetHold } from './budgets.js';
import { countTokens, TOKENS_PER_MESSAGE, TOKENS_PER_REPLY } from '../llm/tokens.js';
import { attachmentContext, checkInput } from './input.js';
import { guardrailCommands } from './commands.js';
import type { Feature, ParleyCommand } from '../engine/feature.js';
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
  now?: () => number;
}

export interface Guardrails {
  /** Middleware, in order: access, rate limits, input limits, redaction, budgets. */
  middleware: Middleware[];
  /** `/parley usage`. */
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

/** What a turn ran under, for the recording after it; `held` = budget reserved for it. */
interface TurnInfo {
  settings: GuardrailSettings;
  model?: string;
  held: BudgetHold[];
}

/**
 * What a turn may cost at most, as far as known when budgets are checked: system prompt,
 * history, question and attachments, plus the longest answer the profile allows. Knowledge
 * passages are added later; the settlement counts them.
 */
function estimateTurnTokens(ctx: TurnContext): number {
  const texts = [ctx.profile.systemPrompt, ...ctx.history.map((t) => t.content), ctx.question, ...ctx.context];
  return texts.reduce((n, t) => n + countTokens(t) + TOKENS_PER_MESSAGE, TOKENS_PER_REPLY) + ctx.profile.maxOutputTokens;
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
  const turnInfo = new WeakMap<IncomingMessage, TurnInfo>();
  const detectorCache = new WeakMap<GuardrailSettings['redaction'], Detector[]>();

  const settingsOf = (ctx: TurnContext): GuardrailSettings => ctx.profile.guardrails ?? topOf();
  const detectors = (s: GuardrailSettings) => {
    let list = detectorCache.get(s.redaction);
    if (!list) detectorCache.set(s.redaction, (list = detectorsFor(s.redaction)));
    return list;
  };

  // Access and redaction are not async: they hand next() on, so an answer streaming holds no
  // frame in them (issue 19); the engine's compose turns a synchronous throw into a rejection.
  const access: Middleware = (ctx, next) => {
    const decision = checkAccess(ctx.message, settingsOf(ctx).access);
    if (decision.allowed) return next();
    ctx.log.info({ reason: decision.reason, user: ctx.message.user.id }, 'access refused');
    return declinePrivately(ctx, decision.reason === 'direct_messages_off' ? REPLIES.noDirectMessages : REPLIES.noAccess);
  };

  /**
   * Store outages: like history, a limit that cannot be read costs the check, not the answer
   * (logged as an error). Access, input limits and redaction need no store and always apply.
   */
  const failOpen =
    (what: string, inner: Middleware): Middleware =>
    async (ctx, next) => {
      let passed = false;
      try {
        await inner(ctx, async () => {
          passed = true;
        });
      } catch (err) {
        ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, `${what} could not be checked; answering anyway`);
        passed = ctx.answer === undefined;
      }
      // Handed on, not awaited: nothing runs after it, and a turn waiting for the model then holds no frame here.
      if (passed) return next();
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
    return next();
  };

  const inputLimits: Middleware = async (ctx, next) => {
    if (await checkInput(ctx, settingsOf(ctx).input, isVision)) return next();
  };

  const redaction: Middleware = (ctx, next) => {
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
    return next();
  };

  const budgetCheck: Middleware = async (ctx, next) => {
    const s = settingsOf(ctx);
    const info: TurnInfo = { settings: s, model: ctx.profile.model, held: [] };
    turnInfo.set(ctx.message, info);
    // No budget set (the default): nothing to reserve, and counting the prompt would load the
    // o200k tables (~19 MB of heap) and tokenize every turn for nothing (issue 19).
    if (!Budgets.limited(s.budgets)) return next();
    // Reserved, not checked: the turn's largest cost is taken from the budgets before the model
    // is called (concurrent turns cannot all pass a check none has paid for yet) and settled
    // with the real usage when the turn is recorded.
    const tokens = estimateTurnTokens(ctx);
    const model = ctx.profile.model ?? 'unknown';
    const cost = costMicros(d.priceOf, model, tokens - ctx.profile.maxOutputTokens, ctx.profile.maxOutputTokens) ?? 0;
    const { held, spent } = await budgets.reserve(ctx.message, tokens, cost, s.budgets, now());
    info.held = held;
    if (spent) {
      ctx.log.info({ budget: spent.budget, used: spent.used, limit: spent.limit }, 'budget spent; no model call');
      return declinePrivately(
        ctx,
        REPLIES.budgetSpent(BUDGET_WORDS[spent.budget], formatUsedOf(spent.budget, spent.used, spent.limit), spent.resetsInMs),
        'budget_spent',
      );
    }
    return next();
  };

  const unpriced = new Set<string>();
  const priced = (model: string, promptTokens: number, completionTokens: number): number | undefined => {
    const cost = costMicros(d.priceOf, model, promptTokens, completionTokens);
    if (cost === undefined && d.priceOf) {
      // Once per model per process at WARN; every answer after that at DEBUG (it is not news).
      const first = !unpriced.has(model);
      unpriced.add(model);
      d.log[first ? 'warn' : 'debug']({ model }, 'model has no price; its cost counts as 0');
    }
    return cost;
  };
  async function record(result: TurnResult, info: TurnInfo): Promise<void> {
    const m = result.message;
    // The reservation is given back first, whatever the turn became; its real usage is added below.
    await budgets.release(info.held.splice(0));
    const user = scopesOf(m).user;
    const conversation = NOT_STORED.has(result.source) ? undefined : { key: result.conversation, retentionMs: d.historyTtlMs };
    const retentionMs = info.settings.privacy.ledgerRetentionDays * 86_400_000;
    /** One model call: its ledger row (priced by its own model) and its tokens and cost added to the budgets. */
    const book = async (call: { model: string; usage?: Usage; latencyMs: number; firstTokenMs?: number; outcome: string }, noted?: typeof conversation) => {
      const promptTokens = call.usage?.promptTokens ?? 0;
      const completionTokens = call.usage?.completionTokens ?? 0;
      const cost = priced(call.model, promptTokens, completionTokens);
      const { usage: _usage, ...rest } = call;
      const row = { at: result.startedAt, platform: m.platform, workspace: m.workspace, channel: m.channel, user: m.user.id, profile: result.profile };
      await ledger.record(
        { ...row, ...rest, promptTokens, completionTokens, ...(call.usage?.estimated && { estimated: true as const }), costMicros: cost },
        retentionMs,
        noted,
      );
      await budgets.add(m, promptTokens + completionTokens, cost ?? 0, info.settings.budgets, now());
    };
    // Calls made for the turn besides the answer (a query rewrite): one row each, under their own model, even when the answer needed no model.
    for (const c of result.sideCalls ?? []) await book({ model: c.model, usage: c.usage, latencyMs: c.latencyMs, outcome: 'ok' });
    const called = result.model !== undefined || (result.error !== undefined && result.error !== 'llm_not_configured');
    if (!called) {
      if (conversation) await ledger.noteConversation(user, conversation.key, conversation.retentionMs);
      return;
    }
    await book(
      {
        model: result.model ?? info.model ?? 'unknown',
        usage: result.usage,
        latencyMs: result.finishedAt - result.startedAt,
        firstTokenMs: result.firstTokenAt === undefined ? undefined : result.firstTokenAt - result.startedAt,
        outcome: result.error ?? 'ok',
      },
      conversation,
    );
  }

  const onTurn = (result: TurnResult) => {
    const info = turnInfo.get(result.message) ?? { settings: topOf(), held: [] };
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
    commands: guardrailCommands(settingsOf, { ledger, budgets, now }),
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
