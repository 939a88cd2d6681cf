import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/kernel/logger.js';
import { KnowledgeBase } from '../../src/knowledge/base.js';
import { loadEvalFile } from '../../src/quality/eval.js';
import { selectPassages, withNeighbours } from '../../src/knowledge/selection.js';
import { DEFAULT_KNOWLEDGE_SETTINGS } from '../../src/config/knowledge.js';
import { dist, type Dist } from '../lib/stats.js';

export interface KnowledgeResult {
  pages: number;
  passages: number;
  /** Wall time of one full index build (read, chunk, analyze, MiniSearch). */
  buildMs: number;
  /** Resident memory the index adds (after GC, whole process). */
  rssMb: number;
  heapMb: number;
  queries: number;
  /** One turn's retrieval: FAQ match, search, relevance decision. */
  queryMs: Dist;
}

/** Deterministic pseudo-random numbers (a linear congruential generator): the same pages every run. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/**
 * `pages` Markdown pages of 4 sections each, written from the vocabulary of the example docs
 * (so questions share words with them, as real ones do), then `queries` customer questions
 * from examples/eval/customers.yaml asked in turn.
 */
export async function knowledge(o: { pages: number; queries: number; root: string }): Promise<KnowledgeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-kb-'));
  try {
    const vocabulary = readFileSync(join(o.root, 'examples/knowledge/billing/refunds.md'), 'utf8')
      .concat(
        readFileSync(join(o.root, 'examples/knowledge/api/webhooks.md'), 'utf8'),
        readFileSync(join(o.root, 'examples/knowledge/time-tracking/timers.md'), 'utf8'),
      )
      .toLowerCase()
      .match(/[a-z]{3,}/g)!;
    const rand = lcg(16);
    // Real documentation has a long tail of rare words: 5,000 made-up ones behind the common ones, drawn Zipf-like.
    const syllables = ['ka', 'lo', 'mi', 'ren', 'tas', 'vu', 'ne', 'dor', 'pi', 'sel', 'gra', 'fin', 'ox', 'bel', 'tu', 'ram'];
    const rare = Array.from({ length: 5_000 }, () =>
      Array.from({ length: 2 + Math.floor(rand() * 3) }, () => syllables[Math.floor(rand() * syllables.length)]).join(''),
    );
    const words = [...new Set(vocabulary)].concat(rare);
    const word = () => words[Math.floor(rand() ** 3 * words.length)]!;
    const sentence = (n: number) => Array.from({ length: n }, word).join(' ');
    for (let i = 0; i < o.pages; i++) {
      const folder = join(dir, `area-${i % 20}`);
      mkdirSync(folder, { recursive: true });
      const sections = Array.from({ length: 4 }, (_, j) => `## ${sentence(3)} ${j}\n\n${sentence(40)}.\n\n${sentence(30)}.`);
      writeFileSync(join(folder, `page-${i}.md`), `# ${sentence(4)} ${i}\n\n${sentence(25)}.\n\n${sections.join('\n\n')}\n`);
    }
    const questions = loadEvalFile(join(o.root, 'examples/eval/customers.yaml')).cases.map((c) => c.question);
    const kb = new KnowledgeBase([{ name: 'bench', dir, displayPath: 'bench' }], { log: silentLogger() });
    global.gc?.();
    const before = process.memoryUsage();
    const t0 = performance.now();
    await kb.load();
    const buildMs = performance.now() - t0;
    global.gc?.();
    const after = process.memoryUsage();
    // Warm-up: the first queries compile the search paths.
    for (const q of questions.slice(0, 20)) await kb.search(q, { k: DEFAULT_KNOWLEDGE_SETTINGS.topK });
    const times: number[] = [];
    const pageOf = kb.pageOf.bind(kb);
    for (let i = 0; i < o.queries; i++) {
      const q = questions[i % questions.length]!;
      const start = performance.now();
      kb.faqMatch(q);
      const { relevant } = selectPassages(await kb.search(q, { k: DEFAULT_KNOWLEDGE_SETTINGS.topK }), DEFAULT_KNOWLEDGE_SETTINGS);
      // The turn's knowledge step also gathers each chosen passage's neighbours (small-to-big).
      withNeighbours(relevant, pageOf);
      times.push(performance.now() - start);
    }
    return {
      pages: o.pages,
      passages: kb.size,
      buildMs: Math.round(buildMs),
      rssMb: Math.round((after.rss - before.rss) / 1024 ** 2),
      heapMb: Math.round((after.heapUsed - before.heapUsed) / 1024 ** 2),
      queries: o.queries,
      queryMs: dist(times, 2),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
