import { describe, expect, it } from 'vitest';
import { formatReport, type EvalReport } from '../../src/quality/eval.js';
import { reportJson, thresholdFailures } from '../../src/quality/eval-report.js';

const report = (o: Partial<EvalReport> = {}): EvalReport => ({
  cases: [{ question: 'How long are backups kept?', profile: 'default', retrieved: ['security/backups.md'], hit: true }],
  k: 3,
  retrieval: { passed: 1, total: 1 },
  referenceCases: 1,
  score: 1,
  pipeline: true,
  ...o,
});

describe('eval thresholds per metric', () => {
  it('fails each metric under its own threshold, and only those', () => {
    const r = report({ reference: { rouge: 0.4, bleu: 0.1, total: 1 } });
    expect(thresholdFailures(r, { minScore: 0.9, minRouge: 0.5, minBleu: 0.2 })).toEqual(['ROUGE-L 0.400 is under 0.5', 'BLEU 0.100 is under 0.2']);
    expect(thresholdFailures(r, { minScore: 0.9, minRouge: 0.4, minBleu: 0.1 })).toEqual([]);
    expect(thresholdFailures({ ...r, score: 0.5 }, { minScore: 0.9 })).toEqual(['score 0.500 is under 0.9']);
  });

  it('cannot fail on metrics that did not run (no model: no answers)', () => {
    const r = report({ pipeline: false });
    expect(thresholdFailures(r, { minScore: 0.9, minRouge: 0.5, minBleu: 0.5 })).toEqual([]);
    expect(formatReport(r)).toMatch(/\nrouge-L: +not checked \(no model configured\)\nbleu: +not checked \(no model configured\)\n/);
    expect(formatReport({ ...r, referenceCases: 0 })).not.toContain('rouge-L');
  });

  it('JSON for CI carries the totals, thresholds, and whether and why it failed', () => {
    const json = JSON.parse(reportJson(report({ reference: { rouge: 0.4, bleu: 0.1, total: 1 } }), { minScore: 0.9, minBleu: 0.2 }));
    expect(json).toMatchObject({
      reference: { rouge: 0.4, bleu: 0.1, total: 1 },
      thresholds: { minScore: 0.9, minBleu: 0.2 },
      passed: false,
      failures: ['BLEU 0.100 is under 0.2'],
    });
  });
});
