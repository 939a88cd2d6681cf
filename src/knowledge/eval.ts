import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { MessageRef, PlatformAdapter, ReplySurface } from '../core/adapter.js';
import { resolveContent } from '../core/adapter.js';
import type { Engine } from '../core/engine.js';
import { ConfigError, describe } from '../core/errors.js';
import type { IncomingMessage } from '../core/types.js';
import type { Settings } from '../config/settings.js';
import { issueToConfigError, parseYaml } from '../config/yaml.js';
import { route } from '../routing/router.js';
import type { KnowledgeBase } from './base.js';

/** `parley eval` cases: questions with what routing, retrieval and the answer should produce. */
export const evalFileSchema = z
  .object({
    /** Overall score (0–1) under which `parley eval` exits non-zero. */
    minScore: z.number().min(0).max(1).default(0.9),
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
  error?: string;
}

export interface EvalReport {
  cases: CaseResult[];
  k: number;
  routing?: { passed: number; total: number };
  retrieval?: { passed: number; total: number };
  phrases?: { passed: number; total: number };
  /** Mean of the pass rates of the checks that ran (0–1). */
  score: number;
  pipeline: boolean;
  indexMs?: number;
}

export interface EvalDeps {
  settings: Settings;
  knowledge?: KnowledgeBase;
  /** When set (a model is configured), each question also runs through the whole pipeline. */
  engine?: Engine;
}

export async function runEval(file: EvalFile, deps: EvalDeps): Promise<EvalReport> {
  const results: CaseResult[] = [];
  const adapter = new EvalAdapter();
  for (const c of file.cases) {
    const where = { platform: c.platform, workspace: c.workspace, channel: c.channel, command: c.command };
    const r = route(deps.settings, where, c.question);
    const result: CaseResult = { question: c.question, profile: r.profile.name, rule: r.rule?.name, retrieved: [] };
    if (c.profile) result.routeOk = r.profile.name === c.profile;
    if (deps.knowledge && r.profile.knowledge?.length !== 0) {
      const hits = await deps.knowledge.search(c.question, { sources: r.profile.knowledge, k: file.k });
      result.retrieved = hits.map((h) => h.passage.path);
    }
    if (c.sources) result.hit = result.retrieved.some((p) => c.sources!.some((s) => p === s || p.endsWith(`/${s}`)));
    if (deps.engine && c.phrases) {
      try {
        const turn = await deps.engine.ask(adapter, adapter.message(c.question, where));
        const text = (turn?.text ?? '').toLowerCase();
        result.answerSource = turn?.source;
        result.missingPhrases = c.phrases.filter((p) => !text.includes(p.toLowerCase()));
        result.phrasesOk = result.missingPhrases.length === 0;
        if (turn?.error) result.error = turn.error;
      } catch (err) {
        result.phrasesOk = false;
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
  const rates = [routing, retrieval, phrases].filter((t) => t !== undefined).map((t) => t.passed / t.total);
  return {
    cases: results,
    k: file.k,
    routing,
    retrieval,
    phrases,
    score: rates.length ? rates.reduce((a, b) => a + b, 0) / rates.length : 0,
    pipeline: !!deps.engine,
    indexMs: deps.knowledge?.stats.indexMs,
  };
}

/** The report as a plain-text table and totals. */
export function formatReport(report: EvalReport): string {
  const mark = (v: boolean | undefined) => (v === undefined ? '–' : v ? 'ok' : 'FAIL');
  const rows = report.cases.map((c, i) => [
    String(i + 1),
    c.question.length > 48 ? `${c.question.slice(0, 47)}…` : c.question,
    `${c.profile}${c.rule ? ` (${c.rule})` : ''}`,
    mark(c.routeOk),
    mark(c.hit),
    mark(c.phrasesOk),
    c.hit === false ? `got ${c.retrieved.slice(0, report.k).join(', ') || 'nothing'}` : c.missingPhrases?.length ? `missing "${c.missingPhrases.join('", "')}"` : (c.error ?? ''),
  ]);
  const header = ['#', 'question', 'profile (rule)', 'route', `hit@${report.k}`, 'phrases', 'notes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const pct = (t?: { passed: number; total: number }) => (t ? `${t.passed}/${t.total} (${((100 * t.passed) / t.total).toFixed(1)}%)` : 'not checked');
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `routing:   ${pct(report.routing)}`,
    `hit@${report.k}:     ${pct(report.retrieval)}`,
    `phrases:   ${report.pipeline ? pct(report.phrases) : 'not checked (no model configured)'}`,
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
