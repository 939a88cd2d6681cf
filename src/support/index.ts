import type { PlatformAdapter } from '../kernel/adapter.js';
import type { Logger } from '../kernel/logger.js';
import type { TurnContext } from '../engine/pipeline.js';
import type { Feature } from '../engine/feature.js';
import type { Profile } from '../config/profile.js';
import type { ChatModelClient } from '../llm/client.js';
import type { HistoryStore } from '../store/history.js';
import type { Store } from '../store/store.js';
import { SupportAnalytics, type PriceOf } from '../analytics/support-analytics.js';
import { statsCommand } from '../analytics/command.js';
import { HandoffService } from '../handoff/service.js';
import { offerHandoffWhenUnsure, quietAfterHandoff } from '../handoff/middleware.js';
import type { HandoffSettings } from '../config/handoff.js';
import type { Settings } from '../config/settings.js';
import type { KnowledgeBase } from '../knowledge/base.js';
import { ReviewService } from '../review/service.js';
import { SupportDesk } from './desk.js';

export { SupportDesk, isThanks, FEEDBACK_TEXTS } from './desk.js';

export interface SupportDeps {
  store: Store;
  history: HistoryStore;
  llm?: ChatModelClient;
  log: Logger;
  /** Profiles by name (read per use, so a config reload applies). */
  profile: (name: string) => Profile | undefined;
  /** HANDOFF_* from the environment, for profiles without a `handoff` block. */
  handoffDefaults?: HandoffSettings;
  quietPeriodMs: number;
  priceOf?: PriceOf;
  /** Who may run `/parley stats` (the guardrails' admins). */
  isAdmin: (ctx: TurnContext) => boolean;
  webhook?: { attempts?: number; backoffBaseMs?: number };
  /** The current settings and knowledge base, for the review queue (issue 12). */
  settings: () => Settings;
  knowledge: () => KnowledgeBase | undefined;
}

export interface Support {
  analytics: SupportAnalytics;
  handoff: HandoffService;
  desk: SupportDesk;
  /** The review queue: weak answers, verdicts, corrections into the FAQ (issue 12). */
  review: ReviewService;
  /** Set once the platforms exist (the escalation channel may be on any of them). */
  setAdapters(adapters: PlatformAdapter[]): void;
  /**
   * Handoff, before the guardrails: quiet in handed-off threads (the engine's quiet gate, and
   * `resume`), and the offer of a human around knowledge when the docs had nothing.
   */
  handoffFeature: Feature;
  /** `/parley stats`; every turn into analytics and the review queue. */
  deskFeature: Feature;
}

/** Feedback, handoff, analytics (issue 6) and the review queue (issue 12) over one store. See docs/support-analytics.md and docs/quality.md. */
export function createSupport(d: SupportDeps): Support {
  let adapters: PlatformAdapter[] = [];
  const analytics = new SupportAnalytics(d.store, { priceOf: d.priceOf, quietPeriodMs: d.quietPeriodMs, log: d.log.child({ component: 'analytics' }) });
  const handoff = new HandoffService({
    store: d.store,
    history: d.history,
    llm: d.llm,
    adapters: () => adapters,
    profile: d.profile,
    defaults: d.handoffDefaults,
    log: d.log.child({ component: 'handoff' }),
    webhook: d.webhook,
  });
  const review = new ReviewService({ store: d.store, settings: d.settings, knowledge: d.knowledge, log: d.log.child({ component: 'review' }) });
  const desk = new SupportDesk({ store: d.store, analytics, handoff, review, log: d.log.child({ component: 'feedback' }) });
  return {
    analytics,
    handoff,
    desk,
    review,
    setAdapters: (list) => void (adapters = list),
    handoffFeature: { name: 'handoff', quiet: handoff.isQuiet, middleware: [quietAfterHandoff(handoff), offerHandoffWhenUnsure(handoff)] },
    deskFeature: { name: 'support', commands: [statsCommand({ analytics, isAdmin: d.isAdmin })], onTurn: desk.onTurn },
  };
}
