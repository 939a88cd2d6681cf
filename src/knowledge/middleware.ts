import type { Feature } from '../engine/feature.js';
import type { Citation, FinalReply } from '../kernel/adapter.js';
import type { Grounding, Middleware, TurnContext } from '../engine/pipeline.js';
import type { Profile } from '../config/profile.js';
import type { KnowledgeSettings } from '../config/knowledge.js';
import { groundedness } from './groundedness.js';
import { cacheableAnswer, type AnswerCache } from './answer-cache.js';
import { citationOf, type Hit, type KnowledgeBase } from './base.js';
import { fuseRelevant, quotePassages, selectPassages, withNeighbours, type PassageBlock } from './selection.js';
import { citationNumbers } from './citations.js';
import { wantsRewrite, type QueryRewriter } from './rewrite.js';

/** What retrieval found for the turn: the FAQ entry it answered from, or the passages it ranked. */
export interface KnowledgeTrace {
  faq?: string;
  score?: number;
  hits?: { id: string; coverage: number; similarity?: number }[];
  /** Passages that counted as relevant (0: the docs had nothing; the handoff offer reads it). */
  relevant?: number;
  /** Retrieval was confident enough to quote the best passage without a model. */
  confident?: boolean;
  /** The model's standalone search query, when the question was rewritten (its passages were fused with the question's). */
  rewritten?: string;
}

declare module '../engine/pipeline.js' {
  interface TurnState {
    knowledge?: KnowledgeTrace;
  }
}

export interface KnowledgeMiddlewareDeps {
  /** The current knowledge base (a config reload may replace it); undefined = none configured. */
  knowledge: () => KnowledgeBase | undefined;
  settings: () => KnowledgeSettings;
  /** Whether a model can answer for this profile (a client exists and the profile names a model). */
  hasModel: (profile: Pick<Profile, 'model' | 'fallbackModels'>) => boolean;
  cache?: AnswerCache;
  /** Query rewriting by the model (absent: never); `knowledge.rewrite` says when. */
  rewriter?: QueryRewriter;
  /** Answers less grounded than this are not cached: the next asker gets a fresh attempt (the review queue's threshold). */
  cacheMinGroundedness?: () => number;
}

/** What the bot says, plainly, when it answers without the model. */
export const KNOWLEDGE_NOTES = {
  grounded: "I don't know — I couldn't find this in the knowledge base, and I only answer from it here. Try rephrasing, or ask a person on the team.",
  /** Degraded mode when retrieval is not confident: no quote that merely shares a word with the question. */
  noModelNoMatch:
    'No model is configured, and nothing in the knowledge base matches this question closely enough to quote. Try rephrasing, or ask a person on the team.',
  noModel: 'No model is configured, so this answer is quoted from the knowledge base:',
  modelDown: 'The model is unavailable right now, so this answer is quoted from the knowledge base:',
  faqNoModel: 'No model is configured; this answer comes from the FAQ:',
  faqModelDown: 'The model is unavailable right now; this answer comes from the FAQ:',
};

/**
 * Knowledge for every turn: FAQ answers at zero cost, the answer cache, retrieved passages in
 * the prompt with citations, the grounded-mode "I don't know", and degraded answers from the
 * knowledge base when the model is missing or failing (after the engine's retries and fallbacks).
 */
export function knowledgeMiddleware(deps: KnowledgeMiddlewareDeps): Middleware {
  return async (ctx, next) => {
    const kb = deps.knowledge();
    const sources = ctx.profile.knowledge;
    if (!kb || (sources && sources.length === 0)) return next();
    const s = deps.settings();
    const modelAvailable = deps.hasModel(ctx.profile);
    const pageOf = kb.pageOf.bind(kb);

    const faq = kb.faqMatch(ctx.question, sources);
    if (faq && faq.score >= s.faqThreshold) {
      ctx.log.debug({ faq: faq.entry.id, score: faq.score }, 'answered from the FAQ');
      ctx.state.knowledge = { faq: faq.entry.id, score: faq.score };
      const text = modelAvailable ? faq.entry.answer : `_${KNOWLEDGE_NOTES.faqNoModel}_\n\n${faq.entry.answer}`;
      ctx.answer = { text, source: 'faq', citations: [kb.faqCitation(faq.entry)] };
      return;
    }

    // Thread context can change what the same words mean: only a thread's first question is cached.
    const cacheable = deps.cache && s.cacheTtlSeconds > 0 && ctx.history.length === 0 && modelAvailable;
    const cacheKey = cacheable ? deps.cache!.key(ctx.profile.name, kb.version, ctx.question) : undefined;
    if (cacheKey) {
      const hit = await deps.cache!.get(cacheKey);
      if (hit) {
        ctx.log.debug({ version: kb.version }, 'answered from the answer cache');
        ctx.answer = { ...hit, source: 'cache' };
        return;
      }
    }

    const context = ctx.history
      .filter((t) => t.role === 'user')
      .slice(-s.contextTurns)
      .map((t) => t.content)
      .join('\n');
    const hits = await kb.search(ctx.question, { sources, k: s.topK, context });
    let { relevant, confident } = selectPassages(hits, s);
    const trace: KnowledgeTrace = { hits: hits.map((h) => ({ id: h.passage.key, coverage: h.coverage, similarity: h.similarity })) };
    const rewriteWith = modelAvailable && deps.rewriter ? rewriteModel(ctx, s, deps.hasModel) : undefined;
    if (rewriteWith && wantsRewrite(s.rewrite.enabled, ctx.history.length > 0, confident)) {
      const r = await deps.rewriter!.rewrite({
        question: ctx.question,
        history: ctx.history,
        turns: s.contextTurns,
        ...rewriteWith,
        timeoutMs: s.rewrite.timeoutMs,
        log: ctx.log,
        askedBy: { person: `${ctx.message.platform}:${ctx.message.user.id}`, conversation: ctx.conversation },
      });
      if (r.call) (ctx.state.sideCalls ??= []).push(r.call);
      if (r.query) {
        // The rewrite is searched alone (it is standalone); its passages join the question's, never replace them.
        const second = selectPassages(await kb.search(r.query, { sources, k: s.topK }), s);
        relevant = fuseRelevant(relevant, second.relevant, s.topK);
        confident ||= second.confident;
        trace.rewritten = r.query;
      }
      ctx.log.debug({ cached: r.cached, rewritten: r.query !== undefined }, 'query rewrite');
    }
    ctx.state.knowledge = { ...trace, relevant: relevant.length, confident };

    if (!relevant.length && ctx.profile.answerMode === 'grounded') {
      ctx.answer = { text: KNOWLEDGE_NOTES.grounded, source: 'declined' };
      return;
    }
    if (!modelAvailable) {
      if (!relevant.length) return next(); // the engine explains that no model is configured
      ctx.answer = confident ? quoted(relevant, KNOWLEDGE_NOTES.noModel, s, pageOf) : { text: `_${KNOWLEDGE_NOTES.noModelNoMatch}_`, source: 'declined' };
      return;
    }

    // Each page's chosen passages go with their neighbours (small-to-big): the fact is often in the next section.
    const blocks = withNeighbours(relevant, pageOf);
    if (relevant.length) {
      // After what earlier middleware added (e.g. the asker's own attachments, more specific than passages).
      ctx.context.push(promptSection(blocks, ctx.profile.answerMode ?? 'general'));
      ctx.citations.push(...uniqueCitations(blocks.map((b) => b.hits[0]!)));
    }
    // Chained on next(), not awaited: while the answer streams, the turn holds what checking it
    // needs, not this function's suspended frame with every local (issue 19).
    return next().then(() => checkAnswer(ctx, deps, { relevant, blocks, settings: s, pageOf, cacheKey }));
  };
}

/** What the middleware gave the model, for checking its answer. */
interface AnsweredWith {
  relevant: Hit[];
  blocks: PassageBlock[];
  settings: KnowledgeSettings;
  pageOf: KnowledgeBase['pageOf'];
  cacheKey: string | undefined;
}

/** After the model: a failed model quoted from the passages, citations and groundedness of its answer, the answer cache. */
async function checkAnswer(ctx: TurnContext, deps: KnowledgeMiddlewareDeps, { relevant, blocks, settings: s, pageOf, cacheKey }: AnsweredWith): Promise<void> {
  const answer = ctx.answer as FinalReply | undefined;
  if (answer?.source === 'error' && relevant.length) {
    // The model failed before writing anything (retries and fallbacks spent): quote instead.
    ctx.log.warn({ passage: relevant[0]!.passage.key }, 'model unavailable; answering from the knowledge base');
    ctx.answer = quoted(relevant, KNOWLEDGE_NOTES.modelDown, s, pageOf);
    return;
  }
  let grounding: Grounding | undefined;
  if (answer?.source === 'model' && relevant.length) {
    // A cut-off or interrupted answer ends with the engine's note, which is not part of the answer.
    const body = answer.incomplete ? answer.text.slice(0, answer.answerLength ?? 0) : answer.text;
    ctx.answer = { ...answer, citations: citedOnly(body, blocks) };
    const given = blocks.flatMap((b) => b.passages);
    // Issue 12: how much of the answer the passages back; the engine carries it into TurnResult (analytics, review queue).
    const g = groundedness(
      body,
      given.map((p) => p.text),
    );
    ctx.state.grounding = grounding = {
      score: g.groundedness,
      judged: g.judged,
      passages: given.map((p) => ({
        id: p.key,
        source: p.source,
        path: p.path,
        title: p.citeTitle ?? p.title,
        location: p.location,
        hash: p.hash,
        text: p.text,
      })),
      unsupported: g.unsupported.map((u) => ({ text: u.text, inventedNumbers: u.inventedNumbers })),
    } satisfies Grounding;
  }
  // The lifetime as configured now (a config reload may have changed it since start-up); 0 turns the cache off.
  const ttlSeconds = deps.settings().cacheTtlSeconds;
  if (cacheKey && ttlSeconds > 0 && cacheableAnswer(ctx.answer, grounding, deps.cacheMinGroundedness?.() ?? 0)) {
    await deps.cache!.set(cacheKey, ctx.answer!, ttlSeconds * 1000, {
      person: `${ctx.message.platform}:${ctx.message.user.id}`,
      conversation: ctx.conversation,
    });
  }
}

/** The model that rewrites: `knowledge.rewrite.model` when it can be served, else the profile's model chain. */
function rewriteModel(
  ctx: TurnContext,
  s: KnowledgeSettings,
  hasModel: KnowledgeMiddlewareDeps['hasModel'],
): { model: string; fallbackModels?: string[] } | undefined {
  const own = s.rewrite.model;
  if (own) return hasModel({ model: own, fallbackModels: [] }) ? { model: own, fallbackModels: [] } : undefined;
  return ctx.profile.model ? { model: ctx.profile.model, fallbackModels: ctx.profile.fallbackModels } : undefined;
}

/** Passages for the system prompt, numbered so the model can cite them as [1], [2]: each block is a page's chosen passages with their neighbours. */
function promptSection(blocks: readonly PassageBlock[], mode: 'grounded' | 'general'): string {
  const rule =
    mode === 'grounded'
      ? 'Answer only from the knowledge-base passages below. If they do not contain the answer, say that you do not know and offer to ask a person on the team; do not guess, and never state a number, plan, date or feature the passages do not give.'
      : 'Use the knowledge-base passages below when they are relevant; otherwise answer from your own knowledge.';
  const passages = blocks.map((b, i) => {
    const lead = b.hits[0]!.passage;
    // One passage reads as before; several are told apart by their section titles.
    const body = b.passages.length === 1 ? b.passages[0]!.text : b.passages.map((p) => `### ${p.title}\n${p.text}`).join('\n\n');
    return `[${i + 1}] ${lead.title} (${lead.location})\n${body}`;
  });
  return `${rule} Cite the passages you use as [1], [2].\n\n${passages.join('\n\n')}`;
}

/**
 * What degraded mode says: a plain note of why, then the quoted passages (`quotePassages`) with
 * their neighbours on the page, each under its title, citing the passages chosen.
 */
export function quoted(relevant: readonly Hit[], note: string, s: Pick<KnowledgeSettings, 'quoteMargin'>, pageOf: KnowledgeBase['pageOf']): FinalReply {
  const picked = quotePassages(relevant, s);
  const blocks = withNeighbours(picked, pageOf).flatMap((b) =>
    b.passages.map((p) => {
      const quote = (p.quote ?? p.text)
        .split('\n')
        .map((l) => `> ${l}`)
        .join('\n');
      return `**${citationOf(p).title}**\n${quote}`;
    }),
  );
  return { text: `_${note}_\n\n${blocks.join('\n\n')}`, source: 'knowledge', citations: uniqueCitations(picked) };
}

/** Citations of the blocks the answer refers to as [n], each as its best passage (the section its header names); all of them when it refers to none. */
function citedOnly(text: string, blocks: readonly PassageBlock[]): Citation[] {
  const used = new Set(citationNumbers(text).map((n) => n - 1));
  const picked = blocks.filter((_, i) => used.has(i));
  return uniqueCitations((picked.length ? picked : blocks).map((b) => b.hits[0]!));
}

function uniqueCitations(hits: readonly Hit[]): Citation[] {
  const seen = new Set<string>();
  const out: Citation[] = [];
  for (const h of hits) {
    const c = citationOf(h.passage);
    if (seen.has(c.location)) continue;
    seen.add(c.location);
    out.push(c);
  }
  return out;
}

export type { TurnContext };

/** Knowledge as a feature of the turn (src/features.ts). */
export function knowledgeFeature(deps: KnowledgeMiddlewareDeps): Feature {
  return { name: 'knowledge', middleware: [knowledgeMiddleware(deps)] };
}
