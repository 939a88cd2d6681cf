import { parseArgs } from 'node:util';
import { createCore } from '../app.js';
import { loadEvalFile, formatReport, runEval } from '../quality/eval.js';
import { reportJson, thresholdFailures } from '../quality/eval-report.js';
import { cliLogger, configOrExit, EXIT_CONFIG, EXIT_FAILED, fail } from './common.js';

export const usage =
  'parley eval CASES.yaml [--min-score 0.9] [--min-rouge R] [--min-bleu B] [--judge MODEL] [--format table|json] [--retrieval-only] [--split tune|heldout]   routing, retrieval hit@k, answers (phrases, ROUGE-L, BLEU, judge); non-zero exit under a threshold';

/**
 * `parley eval`: each case through routing and retrieval, and through the whole pipeline when a
 * model is configured (on a memory store, so history and caches are untouched). Answers with a
 * reference get ROUGE-L and BLEU; with `--judge MODEL` a judge model rates each model answer.
 * Prints a table and totals (or JSON for CI); exits 1 under any threshold (from the file or flags).
 */
export async function evalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'min-score': { type: 'string' },
      'min-rouge': { type: 'string' },
      'min-bleu': { type: 'string' },
      judge: { type: 'string' },
      format: { type: 'string', default: 'table' },
      'retrieval-only': { type: 'boolean', default: false },
      split: { type: 'string' },
    },
  });
  const path = positionals[0];
  if (!path) fail(`no cases file given\nusage: ${usage}`, EXIT_CONFIG);
  const share = (flag: 'min-score' | 'min-rouge' | 'min-bleu') => {
    const raw = values[flag];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!(n >= 0 && n <= 1)) fail(`--${flag}: expected a number between 0 and 1`, EXIT_CONFIG);
    return n;
  };
  const minScore = share('min-score');
  const minRouge = share('min-rouge');
  const minBleu = share('min-bleu');
  if (values.split !== undefined && values.split !== 'tune' && values.split !== 'heldout') fail('--split: expected tune or heldout', EXIT_CONFIG);
  if (values.format !== 'table' && values.format !== 'json') fail('--format: expected table or json', EXIT_CONFIG);
  const cases = loadEvalFile(path);
  const config = configOrExit({ exampleKnowledge: true });
  const log = cliLogger(config, true);
  const core = await createCore({ ...config, store: { url: 'memory://' } }, log, undefined, { watch: false });
  try {
    const profile = core.live.current.profiles.get(core.live.current.defaultProfile);
    const withModel = !values['retrieval-only'] && !!profile && core.hasModel(profile);
    const judgeModel = values.judge ?? cases.judge;
    if (judgeModel !== undefined && (!core.llm || !profile || !core.hasModel({ ...profile, model: judgeModel, fallbackModels: [] }))) {
      fail(
        `${values.judge !== undefined ? '--judge' : `judge (${path})`}: no configured provider serves model "${judgeModel}" (set OPENAI_BASE_URL/OPENAI_API_KEY or add it to the config file)`,
        EXIT_CONFIG,
      );
    }
    if (judgeModel !== undefined && !withModel)
      process.stderr.write('parley: --judge has nothing to rate: no model answers (none configured, or --retrieval-only)\n');
    const report = await runEval(
      cases,
      {
        settings: core.live.current,
        knowledge: core.knowledge.current,
        engine: withModel ? core.engine : undefined,
        judge: withModel && judgeModel && core.llm ? { client: core.llm, model: judgeModel } : undefined,
      },
      { split: values.split as 'tune' | 'heldout' | undefined },
    );
    const thresholds = { minScore: minScore ?? cases.minScore, minRouge: minRouge ?? cases.minRouge, minBleu: minBleu ?? cases.minBleu };
    process.stdout.write(`${values.format === 'json' ? reportJson(report, thresholds) : formatReport(report)}\n`);
    const failures = thresholdFailures(report, thresholds);
    for (const f of failures) process.stderr.write(`parley: ${f}\n`);
    if (failures.length) process.exitCode = EXIT_FAILED;
  } finally {
    core.close();
    await core.engine.drain();
    await core.store.close();
  }
}
