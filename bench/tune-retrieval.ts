/**
 * Learns the knowledge relevance settings on the TUNE half of examples/eval/customers.yaml
 * (never the held-out half): a grid over `quoteThreshold`, `quoteMinScore` and `quoteMargin`
 * (`threshold` and `scoreRatio` as set), scored on retrieval and degraded mode without a model. Prints the best
 * settings; the config schema's defaults (src/config/file.ts) are set from it by hand.
 *
 *   npx tsx bench/tune-retrieval.ts [--split tune]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/kernel/logger.js';
import { KnowledgeBase } from '../src/knowledge/base.js';
import { loadEvalFile } from '../src/quality/eval.js';
import { supportChecks, supportTotals, type Tally } from '../src/knowledge/eval-support.js';
import { DEFAULT_KNOWLEDGE_SETTINGS } from '../src/config/knowledge.js';

const { values } = parseArgs({ options: { split: { type: 'string', default: 'tune' } } });
const root = resolve(import.meta.dirname, '..');
const file = loadEvalFile(resolve(root, 'examples/eval/customers.yaml'));
const kb = new KnowledgeBase([{ name: 'tallyho', dir: resolve(root, 'examples/knowledge'), displayPath: 'examples/knowledge' }], { log: silentLogger() });
await kb.load();
const cases = file.cases.filter((c) => c.split === values.split);
const rate = (t?: Tally) => (t ? t.passed / t.total : 0);

/** Without a model, at least this share of unanswerable questions must get no quote (the rest is traded for quotes that carry the fact). */
const DEGRADED_DECLINE_FLOOR = 0.7;

const rows: { s: typeof DEFAULT_KNOWLEDGE_SETTINGS; recall: number; quote: number; qdecline: number; objective: number }[] = [];
for (const threshold of [0.15]) {
  for (const scoreRatio of [0.3]) {
    for (const quoteMinScore of [10, 15, 20, 25, 30]) {
      for (const quoteThreshold of [0.25, 0.3, 0.35, 0.4, 0.45, 0.5]) {
        for (const quoteMargin of [1, 1.2, 1.5, 2, 3]) {
          const s = { ...DEFAULT_KNOWLEDGE_SETTINGS, threshold, scoreRatio, quoteThreshold, quoteMargin, quoteMinScore };
          const results = [];
          for (const c of cases) results.push(await supportChecks(kb, s, c, c.question, undefined));
          const t = supportTotals(results).find((x) => x.split === 'all')!;
          const recall = rate(t.recall);
          const quote = rate(t.quote);
          const qdecline = rate(t.decline);
          // Recall first (the model reads and declines), then degraded mode's quotes, as long as it still
          // declines most unrelated questions (DEGRADED_DECLINE_FLOOR); then declines break ties.
          rows.push({ s, recall, quote, qdecline, objective: qdecline < DEGRADED_DECLINE_FLOOR ? -1 : 2 * recall + quote + qdecline / 100 });
        }
      }
    }
  }
}
rows.sort((a, b) => b.objective - a.objective);
for (const r of rows.slice(0, 8)) {
  const { threshold, scoreRatio, quoteThreshold, quoteMargin, quoteMinScore } = r.s;
  console.log(
    JSON.stringify({ threshold, scoreRatio, quoteThreshold, quoteMargin, quoteMinScore }),
    `recall ${r.recall.toFixed(3)} quote ${r.quote.toFixed(3)} decline(no model) ${r.qdecline.toFixed(3)}`,
  );
}
