import type { EvalReport } from './eval.js';

/** `parley eval` helpers of issue 12: the judge's passages, thresholds per metric, the JSON report for CI. */

export interface EvalThresholds {
  minScore: number;
  minRouge?: number;
  minBleu?: number;
}

/** One line per threshold the report is under; empty when it passes. Metrics that did not run cannot fail. */
export function thresholdFailures(report: EvalReport, t: EvalThresholds): string[] {
  const out: string[] = [];
  if (report.score < t.minScore) out.push(`score ${report.score.toFixed(3)} is under ${t.minScore}`);
  if (report.reference && t.minRouge !== undefined && report.reference.rouge < t.minRouge)
    out.push(`ROUGE-L ${report.reference.rouge.toFixed(3)} is under ${t.minRouge}`);
  if (report.reference && t.minBleu !== undefined && report.reference.bleu < t.minBleu)
    out.push(`BLEU ${report.reference.bleu.toFixed(3)} is under ${t.minBleu}`);
  return out;
}

/** The report for CI (`--format json`): every check per case, totals, thresholds and what failed. Answers themselves are left out. */
export function reportJson(report: EvalReport, t: EvalThresholds): string {
  const failures = thresholdFailures(report, t);
  return JSON.stringify({ ...report, thresholds: t, passed: failures.length === 0, failures }, null, 2);
}
