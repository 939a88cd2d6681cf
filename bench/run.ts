import { httpApi } from './scenarios/http-api.js';
/**
 * `npm run bench`: latency, pacing and cost of a reply, on the real adapters against the test
 * fakes (Slack, Discord, a scripted OpenAI-compatible model), plus a baseline with the renderer's
 * coalescing off. Writes bench/results/<timestamp>.json, bench/results/latest.json and
 * docs/benchmarks.md (each figure beside the previous latest.json's).
 *
 *   npm run bench                      full run (about 8 minutes on an idle 2-core machine; the HTTP API phase runs 3 times, BENCH_HTTP_RUNS)
 *   npm run bench -- --quick           small counts (about 2 minutes), same scenarios
 *   npm run bench -- --only=single,crowd,throughput,memory,store,baseline,knowledge,http
 *                                      (scenarios left out keep their previous figures in the report, marked as carried)
 *   npm run bench -- --no-write        print the JSON, write nothing
 *   BENCH_REPLIES=100 BENCH_CROWD_SLACK=20 BENCH_CROWD_DISCORD=10 … override single counts
 *
 * Not part of `npm test` (vitest only includes *.test.ts files).
 */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { single, type SingleResult, type Transport } from './scenarios/single.js';
import { crowd, type CrowdResult } from './scenarios/crowd.js';
import { memory, stores, throughput } from './scenarios/engine.js';
import { knowledge } from './scenarios/knowledge.js';
import type { ModelScript } from './lib/worlds.js';
import { renderMarkdown, type BenchResults } from './lib/report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = flag('quick') || process.env.BENCH_QUICK === '1';
const only = new Set((opt('only') ?? 'single,crowd,baseline,throughput,memory,store,knowledge,http').split(','));
const num = (env: string, full: number, small: number) => Number(process.env[env] ?? (quick ? small : full));

const counts = {
  replies: num('BENCH_REPLIES', 200, 20),
  perLane: num('BENCH_PER_LANE', 10, 5),
  gapMs: num('BENCH_GAP_MS', 1_300, 1_300),
  baselineReplies: num('BENCH_BASELINE_REPLIES', 10, 4),
  crowdSlack: num('BENCH_CROWD_SLACK', 50, 10),
  crowdSlackChannels: num('BENCH_CROWD_SLACK_CHANNELS', 10, 5),
  crowdDiscord: num('BENCH_CROWD_DISCORD', 20, 5),
  throughput: num('BENCH_THROUGHPUT', 1_000, 200),
  concurrency: num('BENCH_CONCURRENCY', 20, 10),
  memory: num('BENCH_MEMORY', 1_000, 200),
  httpReplies: num('BENCH_HTTP_REPLIES', 2_000, 400),
  httpStreams: num('BENCH_HTTP_STREAMS', 1_000, 200),
  httpRuns: num('BENCH_HTTP_RUNS', 3, 1),
  storedTurns: num('BENCH_STORED_TURNS', 300, 50),
  storeTurns: num('BENCH_STORE_TURNS', 200, 50),
  knowledgePages: num('BENCH_KNOWLEDGE_PAGES', 1_000, 1_000),
  knowledgeQueries: num('BENCH_KNOWLEDGE_QUERIES', 2_000, 500),
};

/** Single reply: ~1 s of streaming, 15 chunks of 2 words, 150 ms to the first token. */
const singleScript: ModelScript = { firstTokenDelayMs: 150, chunkDelayMs: 60, chunks: 15, wordsPerChunk: 2 };
/** Crowd: ~6 s of streaming each, 40 chunks of one word 150 ms apart, 300 ms to the first token. */
const crowdScript: ModelScript = { firstTokenDelayMs: 300, chunkDelayMs: 150, chunks: 40, wordsPerChunk: 1 };

function git(...a: string[]): string {
  try {
    return execFileSync('git', a, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

const log = (...m: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...m);
const load = () => loadavg().map((x) => Math.round(x * 100) / 100) as [number, number, number];

async function main(): Promise<void> {
  const t0 = Date.now();
  const results: BenchResults = {
    version: 1,
    startedAt: new Date(t0).toISOString(),
    finishedAt: '',
    durationMs: 0,
    quick,
    commit: git('rev-parse', 'HEAD'),
    dirtyFiles: git('status', '--porcelain').split('\n').filter(Boolean).length,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
      freeMemoryGbAtStart: Math.round((freemem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAverageStart: load(),
      loadAverageEnd: [0, 0, 0],
    },
    counts,
    scripts: { single: singleScript, crowd: crowdScript },
    single: [],
    crowd: [],
    baseline: { single: [], crowd: [] },
    loadDuring: {},
  };
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    log(`${name}… (load ${load().join(' ')})`);
    const r = await fn();
    results.loadDuring[name] = load()[0];
    log(`${name} done in ${((Date.now() - start) / 1000).toFixed(1)} s`);
    return r;
  };
  const transports: Transport[] = ['slack-stream', 'slack-update', 'discord-edit', 'discord-ask'];

  if (only.has('single')) {
    for (const t of transports) {
      const r: SingleResult = await phase(`single ${t}`, () =>
        single(t, {
          replies: counts.replies,
          perLane: counts.perLane,
          gapMs: counts.gapMs,
          script: singleScript,
          baseline: false,
          deadlineMs: quick ? 60_000 : 150_000,
        }),
      );
      results.single.push(r);
    }
  }
  if (only.has('crowd')) {
    // One after the other: the fakes' budgets are separate, but run side by side the two crowds
    // share the CPU, and first words (a latency) would measure that contention instead.
    const both: CrowdResult[] = [];
    both.push(
      await phase('crowd slack', () =>
        crowd({
          platform: 'slack',
          replies: counts.crowdSlack,
          channels: counts.crowdSlackChannels,
          script: crowdScript,
          baseline: false,
          deadlineMs: quick ? 90_000 : 200_000,
        }),
      ),
    );
    both.push(
      await phase('crowd discord', () =>
        crowd({ platform: 'discord', replies: counts.crowdDiscord, channels: 1, script: crowdScript, baseline: false, deadlineMs: quick ? 90_000 : 200_000 }),
      ),
    );
    results.crowd.push(...both);
  }
  if (only.has('baseline')) {
    // Every baseline world is separate (own fakes, own budgets) and its figures are seconds, not
    // milliseconds: all run side by side, each capped.
    const cap = quick ? 30_000 : 45_000;
    const [singles, crowds] = await phase('baseline', () =>
      Promise.all([
        only.has('single')
          ? Promise.all(
              transports.map((t) =>
                single(t, { replies: counts.baselineReplies, perLane: 1, gapMs: 0, script: singleScript, baseline: true, deadlineMs: cap }),
              ),
            )
          : Promise.resolve([]),
        only.has('crowd')
          ? Promise.all([
              crowd({
                platform: 'slack',
                replies: counts.crowdSlack,
                channels: counts.crowdSlackChannels,
                script: crowdScript,
                baseline: true,
                deadlineMs: cap,
              }),
              crowd({ platform: 'discord', replies: counts.crowdDiscord, channels: 1, script: crowdScript, baseline: true, deadlineMs: cap }),
            ])
          : Promise.resolve([]),
      ]),
    );
    results.baseline.single.push(...singles);
    results.baseline.crowd.push(...crowds);
  }
  if (only.has('throughput')) results.throughput = await phase('throughput', () => throughput({ replies: counts.throughput, concurrency: counts.concurrency }));
  if (only.has('memory')) results.memory = await phase('memory', () => memory({ concurrent: counts.memory, turns: counts.storedTurns }));
  if (only.has('http'))
    results.httpApi = await phase('http api', () =>
      httpApi({ replies: counts.httpReplies, concurrency: counts.concurrency, streams: counts.httpStreams, runs: counts.httpRuns }),
    );
  if (only.has('store')) results.store = await phase('store', () => stores({ turns: counts.storeTurns, conversations: 20 }));
  if (only.has('knowledge'))
    results.knowledge = await phase('knowledge', () => knowledge({ pages: counts.knowledgePages, queries: counts.knowledgeQueries, root }));

  results.machine.loadAverageEnd = load();
  results.finishedAt = new Date().toISOString();
  results.durationMs = Date.now() - t0;
  log(`finished in ${(results.durationMs / 1000).toFixed(0)} s`);

  const latest = join(root, 'bench', 'results', 'latest.json');
  const previous: BenchResults | undefined = existsSync(latest) ? JSON.parse(readFileSync(latest, 'utf8')) : undefined;
  // A partial run (--only) keeps the other phases' figures from the previous run, marked as carried over.
  if (previous && opt('only')) {
    const carried: string[] = [];
    if (!only.has('single')) (results.single = previous.single), carried.push('single');
    if (!only.has('crowd')) (results.crowd = previous.crowd), carried.push('crowd');
    if (!only.has('baseline')) (results.baseline = previous.baseline), carried.push('baseline');
    if (!only.has('throughput') && previous.throughput) (results.throughput = previous.throughput), carried.push('throughput');
    if (!only.has('memory') && previous.memory) (results.memory = previous.memory), carried.push('memory');
    if (!only.has('store') && previous.store) (results.store = previous.store), carried.push('store');
    if (!only.has('knowledge') && previous.knowledge) (results.knowledge = previous.knowledge), carried.push('knowledge');
    if (!only.has('http') && previous.httpApi) (results.httpApi = previous.httpApi), carried.push('http');
    results.carried = carried;
    results.carriedFrom = previous.carriedFrom ?? previous.startedAt;
  }
  const json = JSON.stringify(results, null, 2);
  if (flag('no-write')) {
    console.log(json);
    return;
  }
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  writeFileSync(join(dir, `${stamp}.json`), json + '\n');
  writeFileSync(latest, json + '\n');
  writeFileSync(join(root, 'docs', 'benchmarks.md'), renderMarkdown(results, previous));
  log(`wrote bench/results/${stamp}.json, bench/results/latest.json, docs/benchmarks.md`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
