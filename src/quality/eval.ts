import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { MessageRef, PlatformAdapter, ReplySurface } from '../kernel/adapter.js';
import { resolveContent } from '../kernel/adapter.js';
import type { Engine } from '../engine/engine.js';
import { ConfigError, describe } from '../kernel/errors.js';
import type { IncomingMessage } from '../kernel/types.js';
import type { Settings } from '../config/settings.js';
import { issueToConfigError, parseYaml } from '../config/yaml.js';
import { route } from '../routing/router.js';
import type { ChatModelClient } from '../llm/client.js';
import { judgeAnswer, type JudgeVerdict } from './judge.js';
import { selectPassages, withNeighbours } from '../knowledge/selection.js';
import type { KnowledgeSettings } from '../config/knowledge.js';
import { scoreAgainstReference } from './reference.js';
import type { KnowledgeBase } from '../knowledge/base.js';
import { formatSupport, modelChecks, supportChecks, supportTotals, type SupportResult, type SupportTotals } from '../knowledge/eval-support.js';

/** `parley eval` cases: questions with what routing, retrieval and the answer should produce. */
export const evalFileSchema = z
  .object({
    /** Overall score (0–1) under which `parley eval` exits non-zero. */
    minScore: z.number().min(0).max(1).default(0.9),
    /** Mean ROUGE-L F (0–1) over cases with a `reference` under which `parley eval` exits non-zero. */
    minRouge: z.number().min(0).max(1).optional(),
    /** Mean BLEU (0–1) over cases with a `reference` under which `parley eval` exits non-zero. */
    minBleu: z.number().min(0).max(1).optional(),
    /** A judge model rating each model answer (as `--judge MODEL`, which overrides it). */
    judge: z.string().min(1).optional(),
    /** Passages looked at for hit@k. */
    k: z.number().int().min(1).max(20).default(3),
    cases: z
      .array(
        z
          .object({
            question: z.string().min(1),
            platform: z.string().default('console'),
            workspace: z.string().default('local'),
            channel: z.string().default('terminal'),
            command: z.string().optional(),
            /** Expected profile (routing check). */
            profile: z.string().optional(),
            /** Expected pages (paths inside the source, e.g. `billing/refunds.md`): a hit when any is in the top k. */
            sources: z.array(z.string().min(1)).optional(),
            /** Phrases the full answer must contain (ignoring case); checked only when a model is configured. */
            phrases: z.array(z.string().min(1)).optional(),
            /** A model answer to compare with (ROUGE-L and BLEU); checked only when a model is configured. */
            reference: z.string().min(1).optional(),
            /** A phrase of the right page the answer must carry (degraded mode: the quote). */
            fact: z.string().min(1).optional(),
            /** false: the docs do not answer this; the right outcome is an honest decline. */
            answerable: z.boolean().default(true),
            /** Which half the case belongs to: settings are tuned on `tune`, results reported on `heldout`. */
            split: z.enum(['tune', 'heldout']).optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type EvalFile = z.output<typeof evalFileSchema>;

export function loadEvalFile(path: string): EvalFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read: ${describe(err)}`);
  }
  const located = parseYaml(text, path);
  const r = evalFileSchema.safeParse(located.value);
  if (!r.success) throw issueToConfigError(r.error, located, path);
  return r.data;
}

/** One check: passed, failed, or not applicable (undefined). */
export interface CaseResult {
  question: string;
  profile: string;
  rule?: string;
  routeOk?: boolean;
  /** Paths of the top-k passages. */
  retrieved: string[];
  hit?: boolean;
  phrasesOk?: boolean;
  missingPhrases?: string[];
  answerSource?: string;
  /** Against `reference` (0–1). */
  rouge?: number;
  bleu?: number;
  /** The judge's verdict on a model answer, when a judge is configured. */
  judge?: JudgeVerdict;
  /** Share of the answer backed by its passages (0–1), as computed live for every model answer. */
  groundedness?: number;
  error?: string;
  /** Support-desk checks (cases with `fact` or `answerable: false`). */
  support?: SupportResult;
}

export interface EvalReport {
  cases: CaseResult[];
  k: number;
  routing?: { passed: number; total: number };
  retrieval?: { passed: number; total: number };
  phrases?: { passed: number; total: number };
  /** Cases that carry a reference answer (scored only with a model). */
  referenceCases: number;
  /** Means over the cases with a reference that got an answer. */
  reference?: { rouge: number; bleu: number; total: number };
  /** Means over the verdicts that parsed; `failed` counts unparseable replies and failed calls. */
  judge?: { model: string; faithfulness?: number; helpfulness?: number; scored: number; failed: number };
  /** Mean groundedness of the model answers that had passages. */
  groundedness?: { mean: number; total: number };
  /** Mean of the pass rates of the checks that ran (0–1). */
  score: number;
  pipeline: boolean;
  indexMs?: number;
  /** Support-desk metrics per split and overall. */
  support?: SupportTotals[];
  /** The split the run was limited to. */
  split?: 'tune' | 'heldout';
}

export interface EvalDeps {
  settings: Settings;
  knowledge?: KnowledgeBase;
  /** When set (a model is configured), each question also runs through the whole pipeline. */
  engine?: Engine;
  /** When set (`--judge MODEL`), each model answer is also rated by this model. */
  judge?: { client: ChatModelClient; model: string };
}

export async function runEval(file: EvalFile, deps: EvalDeps, options: { split?: 'tune' | 'heldout' } = {}): Promise<EvalReport> {
  const results: CaseResult[] = [];
  const adapter = new EvalAdapter();
  for (const c of file.cases.filter((x) => !options.split || x.split === options.split)) {
    const where = { platform: c.platform, workspace: c.workspace, channel: c.channel, command: c.command };
    const r = route(deps.settings, where, c.question);
    const result: CaseResult = { question: c.question, profile: r.profile.name, rule: r.rule?.name, retrieved: [] };
    if (c.profile) result.routeOk = r.profile.name === c.profile;
    if (deps.knowledge && r.profile.knowledge?.length !== 0) {
      const hits = await deps.knowledge.search(c.question, { sources: r.profile.knowledge, k: file.k });
      result.retrieved = hits.map((h) => h.passage.path);
    }
    if (c.sources) result.hit = result.retrieved.some((p) => c.sources!.some((s) => p === s || p.endsWith(`/${s}`)));
    const isSupport = c.fact !== undefined || !c.answerable;
    if (isSupport && deps.knowledge) result.support = await supportChecks(deps.knowledge, deps.settings.knowledge, c, c.question, r.profile.knowledge);
    if (deps.engine && (c.phrases || c.reference || isSupport)) {
      try {
        const turn = await deps.engine.deliver(adapter, adapter.message(c.question, where));
        const text = (turn?.text ?? '').toLowerCase();
        result.answerSource = turn?.source;
        if (c.phrases) {
          result.missingPhrases = c.phrases.filter((p) => !text.includes(p.toLowerCase()));
          result.phrasesOk = result.missingPhrases.length === 0;
        }
        if (c.reference) Object.assign(result, scoreAgainstReference(turn?.text ?? '', c.reference));
        if (turn?.grounding) result.groundedness = turn.grounding.score;
        if (turn?.error) result.error = turn.error;
        if (result.support) modelChecks(result.support, c, turn);
        if (deps.judge && turn && (turn.source === 'model' || turn.source === 'cache')) {
          const passages = await citedPassages(
            deps.settings.knowledge,
            deps.knowledge,
            r.profile.knowledge,
            c.question,
            turn.citations.map((x) => x.id),
          );
          result.judge = await judgeAnswer(deps.judge.client, deps.judge.model, { question: c.question, answer: turn.text, passages });
        }
      } catch (err) {
        if (c.phrases) result.phrasesOk = false;
        result.error = describe(err);
      }
    }
    results.push(result);
  }
  const tally = (pick: (r: CaseResult) => boolean | undefined) => {
    const ran = results.map(pick).filter((v): v is boolean => v !== undefined);
    return ran.length ? { passed: ran.filter(Boolean).length, total: ran.length } : undefined;
  };
  const routing = tally((r) => r.routeOk);
  const retrieval = tally((r) => r.hit);
  const phrases = tally((r) => r.phrasesOk);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const referenced = results.filter((r) => r.rouge !== undefined);
  const grounded = results.flatMap((r) => (r.groundedness === undefined ? [] : [r.groundedness]));
  const verdicts = results.flatMap((r) => (r.judge ? [r.judge] : []));
  const scored = verdicts.flatMap((v) => (v.ok ? [v] : []));
  const support = results.some((r) => r.support) ? supportTotals(results.flatMap((r) => (r.support ? [r.support] : []))) : undefined;
  const overall = support?.find((t) => t.split === 'all');
  const rates = [routing, retrieval, phrases, overall?.recall, overall?.citation, overall?.decline]
    .filter((t) => t !== undefined)
    .map((t) => t.passed / t.total);
  return {
    cases: results,
    k: file.k,
    routing,
    retrieval,
    phrases,
    referenceCases: file.cases.filter((c) => c.reference).length,
    reference: referenced.length
      ? { rouge: mean(referenced.map((r) => r.rouge!)), bleu: mean(referenced.map((r) => r.bleu!)), total: referenced.length }
      : undefined,
    judge: deps.judge
      ? {
          model: deps.judge.model,
          faithfulness: scored.length ? mean(scored.map((v) => v.faithfulness)) : undefined,
          helpfulness: scored.length ? mean(scored.map((v) => v.helpfulness)) : undefined,
          scored: scored.length,
          failed: verdicts.length - scored.length,
        }
      : undefined,
    groundedness: grounded.length ? { mean: mean(grounded), total: grounded.length } : undefined,
    score: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : 0,
    pipeline: !!deps.engine,
    indexMs: deps.knowledge?.stats.indexMs,
    support,
    split: options.split,
  };
}

/** The report as a plain-text table and totals. */
export function formatReport(report: EvalReport): string {
  const mark = (v: boolean | undefined) => (v === undefined ? '–' : v ? 'ok' : 'FAIL');
  const num = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(3));
  const withReference = report.cases.some((c) => c.rouge !== undefined);
  const withJudge = !!report.judge;
  const withGroundedness = !!report.groundedness;
  const rows = report.cases.map((c, i) => [
    String(i + 1),
    c.question.length > 48 ? `${c.question.slice(0, 47)}…` : c.question,
    `${c.profile}${c.rule ? ` (${c.rule})` : ''}`,
    mark(c.routeOk),
    mark(c.hit),
    mark(c.phrasesOk),
    ...(withReference ? [num(c.rouge), num(c.bleu)] : []),
    ...(withGroundedness ? [num(c.groundedness)] : []),
    ...(withJudge ? [!c.judge ? '–' : c.judge.ok ? `${c.judge.faithfulness}/${c.judge.helpfulness}` : 'n/a'] : []),
    [
      c.hit === false
        ? `got ${c.retrieved.slice(0, report.k).join(', ') || 'nothing'}`
        : c.missingPhrases?.length
          ? `missing "${c.missingPhrases.join('", "')}"`
          : (c.error ?? ''),
      c.judge ? (c.judge.ok ? `judge: ${c.judge.reason}` : c.judge.error) : '',
    ]
      .filter(Boolean)
      .join('; '),
  ]);
  const header = [
    '#',
    'question',
    'profile (rule)',
    'route',
    `hit@${report.k}`,
    'phrases',
    ...(withReference ? ['rouge-L', 'bleu'] : []),
    ...(withGroundedness ? ['grounded'] : []),
    ...(withJudge ? ['judge F/H'] : []),
    'notes',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const pct = (t?: { passed: number; total: number }) => (t ? `${t.passed}/${t.total} (${((100 * t.passed) / t.total).toFixed(1)}%)` : 'not checked');
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `routing:   ${pct(report.routing)}`,
    `hit@${report.k}:     ${pct(report.retrieval)}`,
    `phrases:   ${report.pipeline ? pct(report.phrases) : 'not checked (no model configured)'}`,
    ...(report.reference
      ? [
          `rouge-L:   ${report.reference.rouge.toFixed(3)} (mean of ${report.reference.total})`,
          `bleu:      ${report.reference.bleu.toFixed(3)} (mean of ${report.reference.total})`,
        ]
      : report.pipeline || !report.referenceCases
        ? []
        : ['rouge-L:   not checked (no model configured)', 'bleu:      not checked (no model configured)']),
    ...(report.groundedness ? [`grounded:  ${report.groundedness.mean.toFixed(3)} (mean of ${report.groundedness.total} answers with passages)`] : []),
    ...(report.judge
      ? [
          `judge:     ${report.judge.scored ? `faithfulness ${report.judge.faithfulness!.toFixed(2)}, helpfulness ${report.judge.helpfulness!.toFixed(2)} (1–5, ${report.judge.scored} scored` : '(none scored'}${report.judge.failed ? `, ${report.judge.failed} unparseable or failed, not counted` : ''}; ${report.judge.model})`,
        ]
      : []),
    ...(report.support
      ? ['', `support desk${report.split ? ` (${report.split} half only)` : ''}:`, ...formatSupport(report.support, report.k, report.pipeline)]
      : []),
    `score:     ${report.score.toFixed(3)}`,
  ].join('\n');
}

/** An in-memory platform for eval runs: replies are collected, nothing is sent anywhere. */
class EvalAdapter implements PlatformAdapter {
  readonly platform = 'eval';
  private seq = 0;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async openReply(): Promise<ReplySurface> {
    return {
      maxLength: Number.MAX_SAFE_INTEGER,
      post: async (content) => {
        resolveContent(content);
        return { id: 'eval' } satisfies MessageRef;
      },
      edit: async (_ref, content) => {
        resolveContent(content);
      },
    };
  }
  message(text: string, where: { platform: string; workspace: string; channel: string; command?: string }): IncomingMessage {
    const id = `eval-${++this.seq}`;
    return {
      ...where,
      thread: id,
      id,
      // One user per case: per-user rate limits must not fail a long eval run.
      user: { id: id },
      text,
      attachments: [],
      trigger: where.command ? 'slash_command' : 'mention',
      receivedAt: Date.now(),
    };
  }
}

/**
 * The passages the pipeline gave the model for a first question that its answer cites (all of
 * them when it cites none): what the judge checks faithfulness against. Same search and
 * relevance rule as the knowledge middleware.
 */
export async function citedPassages(
  s: KnowledgeSettings,
  knowledge: KnowledgeBase | undefined,
  sources: readonly string[] | undefined,
  question: string,
  cited: string[],
): Promise<{ title: string; text: string }[]> {
  if (!knowledge) return [];
  const given = withNeighbours(selectPassages(await knowledge.search(question, { sources, k: s.topK }), s).relevant, knowledge.pageOf.bind(knowledge));
  // A block is cited as its best passage, and the model read the whole block.
  const picked = given.filter((b) => cited.includes(b.hits[0]!.passage.key));
  return (picked.length ? picked : given).flatMap((b) => b.passages.map((p) => ({ title: p.title, text: p.text })));
}
