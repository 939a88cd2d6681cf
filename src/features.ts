import type { Config } from './config/env.js';
import type { LiveSettings } from './config/live-settings.js';
import { findModel } from './config/settings.js';
import { defaultGuardrailSettings } from './config/guardrails.js';
import { handoffFromEnv } from './config/handoff.js';
import type { Feature } from './engine/feature.js';
import type { Logger } from './kernel/logger.js';
import type { ChatModelClient } from './llm/client.js';
import type { HistoryStore } from './store/history.js';
import type { Store } from './store/store.js';
import type { Metrics } from './ops/metrics.js';
import type { AdminChannel } from './ops/alerts.js';
import type { LiveKnowledge } from './knowledge/live.js';
import { commandsFeature } from './commands/index.js';
import { routingFeature } from './routing/router.js';
import { createGuardrails, guardrailsFeature } from './guardrails/index.js';
import { isAdmin } from './guardrails/access.js';
import { knowledgeFeature } from './knowledge/middleware.js';
import { AnswerCache } from './knowledge/answer-cache.js';
import { QueryRewriter } from './knowledge/rewrite.js';
import { createSupport, type Support } from './support/index.js';
import { Forgetter, privacyFeature } from './privacy/forget.js';

/** What the features are built from: the core's parts, made once in app.ts. */
export interface FeatureKit {
  config: Config;
  live: LiveSettings;
  store: Store;
  history: HistoryStore;
  /** Absent when no model is configured. */
  llm?: ChatModelClient;
  hasModel: (p: { model?: string; fallbackModels?: string[] }) => boolean;
  knowledge: LiveKnowledge;
  metrics: Metrics;
  adminChannel: AdminChannel;
  log: Logger;
}

/**
 * Every feature of a turn, in the order its middleware runs; listeners and output transforms
 * follow the same order. Adding a feature: its folder, and one line here.
 */
export function createFeatures(k: FeatureKit): { features: Feature[]; support: Support; forgetter: Forgetter } {
  const current = () => k.live.current;
  const priceOf = (model: string) => findModel(current(), model)?.price;
  const support = createSupport({
    store: k.store,
    history: k.history,
    llm: k.llm,
    log: k.log,
    profile: (name) => current().profiles.get(name),
    handoffDefaults: handoffFromEnv(k.config.support.handoff),
    quietPeriodMs: k.config.support.quietPeriodMs,
    priceOf: (profile, model) => {
      const p = model ? priceOf(model) : undefined;
      return current().profiles.get(profile)?.pricing ?? (p ? { inputPerMillion: p.input, outputPerMillion: p.output } : undefined);
    },
    isAdmin: (ctx) => isAdmin(ctx.message, (ctx.profile.guardrails ?? current().guardrails ?? defaultGuardrailSettings()).access),
    settings: current,
    knowledge: () => k.knowledge.current,
  });
  const guardrails = createGuardrails({
    store: k.store,
    history: k.history,
    notifyAdmins: k.adminChannel.post,
    log: k.log.child({ component: 'guardrails' }),
    historyTtlMs: k.config.assistant.historyTtlMs,
    // Functions: a reloaded config file applies to the next turn (and the output filter).
    settings: () => current().guardrails,
    allSettings: () => [...current().profiles.values()].flatMap((p) => (p.guardrails ? [p.guardrails] : [])),
    priceOf: (model) => {
      const p = priceOf(model);
      return p ? { inPerM: p.input, outPerM: p.output } : undefined;
    },
    // Images go only to models marked vision-capable: in the config file, or OPENAI_VISION for the environment's model.
    isVisionModel: (model) => findModel(current(), model)?.vision ?? (model === k.config.llm.model && k.config.llm.vision),
  });
  const guardrailSettings = () => [
    current().guardrails ?? defaultGuardrailSettings(),
    ...[...current().profiles.values()].flatMap((p) => (p.guardrails ? [p.guardrails] : [])),
  ];
  const forgetter = new Forgetter({
    store: k.store,
    history: k.history,
    ledger: guardrails.ledger,
    analytics: support.analytics,
    review: support.review,
    // The longest retention any profile has: rows older than every retention are gone anyway.
    ledgerRetentionDays: () => Math.max(...guardrailSettings().map((g) => g.privacy.ledgerRetentionDays)),
    log: k.log.child({ component: 'privacy' }),
  });
  const knowledge = knowledgeFeature({
    knowledge: () => k.knowledge.current,
    settings: () => current().knowledge,
    hasModel: k.hasModel,
    cache: new AnswerCache(k.store, { log: k.log }),
    // Query rewriting needs a model client; `knowledge.rewrite` says when it is used.
    rewriter: k.llm ? new QueryRewriter(k.llm, k.store) : undefined,
    cacheMinGroundedness: () => current().review.groundednessThreshold,
  });

  const afterCommands: Feature[] = [
    support.handoffFeature, // quiet in handed-off threads; offers a human when the docs had nothing
    guardrailsFeature(guardrails), // access, rate limits, input limits, redaction, budgets; usage ledger; output filter
    privacyFeature(forgetter), // `/parley forget`: the one deletion path
    knowledge, // FAQ, answer cache, passages and citations for the model
    support.deskFeature, // `/parley stats`; analytics, feedback and the review queue after each turn
    k.metrics.feature(), // Prometheus counters
  ];
  return {
    features: [
      routingFeature(current), // picks the turn's profile (and so its model, guardrails and knowledge)
      commandsFeature(afterCommands), // `/parley …`: the sub-commands the features below declare
      ...afterCommands,
    ],
    support,
    forgetter,
  };
}
