import { parseArgs } from 'node:util';
import { createCore } from '../app.js';
import { loadEvalFile, formatReport, runEval } from '../knowledge/eval.js';
import { cliLogger, configOrExit, EXIT_CONFIG, EXIT_FAILED, fail } from './common.js';

export const usage = 'parley eval CASES.yaml [--min-score 0.9] [--retrieval-only]   routing, retrieval hit@k and answers; non-zero exit under the score';

/**
 * `parley eval`: each case through routing and retrieval, and through the whole pipeline when a
 * model is configured (on a memory store, so history and caches are untouched). Prints a table
 * and totals; exits 1 when the score is under `minScore` (from the file or `--min-score`).
 */
export async function evalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'min-score': { type: 'string' }, 'retrieval-only': { type: 'boolean', default: false } },
  });
  const path = positionals[0];
  if (!path) fail(`no cases file given\nusage: ${usage}`, EXIT_CONFIG);
  const minScore = values['min-score'] === undefined ? undefined : Number(values['min-score']);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 1)) fail('--min-score: expected a number between 0 and 1', EXIT_CONFIG);
  const cases = loadEvalFile(path);
  const config = configOrExit();
  const log = cliLogger(config, true);
  const core = await createCore({ ...config, store: { url: 'memory://' } }, log, undefined, { watch: false });
  try {
    const profile = core.live.current.profiles.get(core.live.current.defaultProfile);
    const withModel = !values['retrieval-only'] && !!profile && core.hasModel(profile);
    const report = await runEval(cases, { settings: core.live.current, knowledge: core.knowledge.current, engine: withModel ? core.engine : undefined });
    process.stdout.write(`${formatReport(report)}\n`);
    const threshold = minScore ?? cases.minScore;
    if (report.score < threshold) {
      process.stderr.write(`parley: score ${report.score.toFixed(3)} is under ${threshold}\n`);
      process.exitCode = EXIT_FAILED;
    }
  } finally {
    core.close();
    await core.engine.drain();
    await core.store.close();
  }
}
