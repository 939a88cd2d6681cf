import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOwnRedis, type OwnRedis } from '../../test/helpers/redis-server.js';
import { engineWorld } from '../lib/engine-world.js';
import { dist, round, sleep, within, type Dist } from '../lib/stats.js';
import type { ScriptedReply } from '../../test/fakes/openai-server.js';
import { conversationKey } from '../../src/kernel/types.js';

const SHORT: ScriptedReply = { chunks: ['Restart ', 'the ', 'agent ', 'and ', 'try ', 'again.'], firstTokenDelayMs: 0, chunkDelayMs: 0 };

export interface ThroughputResult {
  replies: number;
  concurrency: number;
  completed: number;
  repliesPerSecond: number;
  cpuMsPerReply: number;
  turnMs: Dist;
  wallMs: number;
}

/**
 * Throughput: short replies from an instant model through the engine, the memory store and the
 * in-memory platform, `concurrency` conversations at a time. CPU is the whole process's
 * (the engine, the OpenAI SDK and the fake model server share it), from process.cpuUsage.
 */
export async function throughput(o: { replies: number; concurrency: number }): Promise<ThroughputResult> {
  const w = await engineWorld({ storeUrl: 'memory://', reply: SHORT });
  try {
    for (let i = 0; i < 20; i++) await w.ask(`warm up ${i}`, `warm-${i}`); // JIT, connections
    const turnMs: number[] = [];
    let next = 0;
    let completed = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await within(
      Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (next < o.replies) {
            const i = next++;
            const r = await w.ask(`question ${i}`, `tp-${i}`);
            if (r && r.text === 'Restart the agent and try again.') completed++;
            if (r) turnMs.push(r.finishedAt - r.startedAt);
          }
        }),
      ),
      240_000,
      'throughput',
    );
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return {
      replies: o.replies,
      concurrency: o.concurrency,
      completed,
      repliesPerSecond: round((completed / wallMs) * 1000, 1),
      cpuMsPerReply: round((cpu.user + cpu.system) / 1000 / Math.max(1, completed), 2),
      turnMs: dist(turnMs),
      wallMs: Math.round(wallMs),
    };
  } finally {
    await w.stop();
  }
}

export interface MemoryResult {
  concurrent: number;
  completed: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  /** (peak − before) / replies. */
  rssPerReplyKb: number;
  heapPeakMb: number;
  /**
   * Heap still reachable per reply halfway through the streams, after a full GC (`--expose-gc`):
   * what concurrency really costs, without the garbage the peak figures include.
   */
  retainedHeapPerReplyKb?: number;
  /** How long the concurrent replies took, all together. */
  streamMs: number;
  /** sqlite file growth per stored turn (question + answer), over `turns` new conversations. */
  sqliteBytesPerTurn: number;
  /** The stored history value of one question + answer, as JSON. */
  historyJsonBytesPerTurn: number;
  turns: number;
}

/**
 * Memory: `concurrent` replies streaming at once through the engine (in-memory platform, memory
 * store), resident memory sampled every 50 ms. RSS is the whole process (bot and fake model).
 * Then bytes stored per turn, measured on a fresh sqlite file.
 */
export async function memory(o: { concurrent: number; turns: number }): Promise<MemoryResult> {
  const chunks = Array.from({ length: 60 }, (_, i) => `word${i} `);
  const streamReply: ScriptedReply = { chunks, firstTokenDelayMs: 200, chunkDelayMs: 40 };
  const w = await engineWorld({ storeUrl: 'memory://', reply: streamReply });
  let rssBefore = 0;
  let rssPeak = 0;
  let heapPeak = 0;
  let completed = 0;
  let streamMs = 0;
  let retainedHeapPerReplyKb: number | undefined;
  const gc = (globalThis as { gc?: () => void }).gc;
  try {
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.ask(`warm up ${i}`, `mw-${i}`)));
    w.adapter.replies.clear();
    gc?.();
    await sleep(200);
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    rssBefore = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      rssPeak = Math.max(rssPeak, m.rss);
      heapPeak = Math.max(heapPeak, m.heapUsed);
    }, 50);
    const t0 = performance.now();
    try {
      const all = within(
        Promise.all(Array.from({ length: o.concurrent }, (_, i) => w.ask(`question ${i}`, `mem-${i}`))),
        180_000,
        'memory: concurrent replies',
      );
      if (gc) {
        // Halfway: every reply has its first token and is streaming (200 ms + 30 of 60 chunks at 40 ms).
        await sleep(200 + 30 * 40);
        gc();
        retainedHeapPerReplyKb = round((process.memoryUsage().heapUsed - heapBefore) / 1024 / Math.max(1, o.concurrent), 1);
      }
      const results = await all;
      completed = results.filter((r) => r && r.text === chunks.join('')).length;
    } finally {
      clearInterval(sampler);
      streamMs = Math.round(performance.now() - t0);
    }
  } finally {
    await w.stop();
  }

  // Bytes per stored turn, on sqlite.
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const file = join(dir, 'bench.sqlite');
  const size = () => ['', '-wal', '-shm'].reduce((s, ext) => s + (existsSync(file + ext) ? statSync(file + ext).size : 0), 0);
  let sqliteBytesPerTurn = 0;
  let historyJsonBytesPerTurn = 0;
  const answer: ScriptedReply = {
    text: 'Restart the agent, then check the logs under /var/log/agent for errors and try again.',
    firstTokenDelayMs: 0,
    chunkDelayMs: 0,
  };
  // Sizes are read with the store closed (the WAL checkpointed into the file).
  const warm = await engineWorld({ storeUrl: `sqlite://${file}`, reply: answer });
  for (let i = 0; i < 5; i++) await warm.ask(`warm up question number ${i}?`, `sw-${i}`);
  await warm.stop();
  const before = size();
  const s = await engineWorld({ storeUrl: `sqlite://${file}`, reply: answer });
  try {
    for (let i = 0; i < o.turns; i++) await s.ask(`How do I restart the agent on host ${i}?`, `bytes-${i}`);
    const turns = await s.parley.engine.historyOf(conversationKey({ platform: 'memory', workspace: 'W1', channel: 'C1', thread: 'bytes-0' }));
    historyJsonBytesPerTurn = Buffer.byteLength(JSON.stringify({ turns, updatedAt: Date.now() }));
  } finally {
    await s.stop();
    sqliteBytesPerTurn = Math.round((size() - before) / o.turns);
    rmSync(dir, { recursive: true, force: true });
  }
  const mb = (b: number) => round(b / 1024 / 1024, 1);
  return {
    concurrent: o.concurrent,
    completed,
    rssBeforeMb: mb(rssBefore),
    rssPeakMb: mb(rssPeak),
    rssPerReplyKb: round((rssPeak - rssBefore) / 1024 / Math.max(1, o.concurrent), 1),
    heapPeakMb: mb(heapPeak),
    retainedHeapPerReplyKb,
    streamMs,
    sqliteBytesPerTurn,
    historyJsonBytesPerTurn,
    turns: o.turns,
  };
}

export interface StoreResult {
  store: 'memory' | 'sqlite' | 'redis';
  turns: number;
  completed: number;
  turnMs: Dist;
  msPerTurn: number;
  note?: string;
}

/**
 * Store: time per turn (engine start of turn → history saved) with each store, one turn at a
 * time, over `conversations` conversations so histories grow as in real threads. Every store
 * access of a turn is in it: history load and save, the in-flight journal, analytics, usage ledger.
 */
export async function stores(o: { turns: number; conversations: number }): Promise<StoreResult[]> {
  const out: StoreResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-store-'));
  try {
    for (const store of ['memory', 'sqlite', 'redis'] as const) {
      let url = store === 'memory' ? 'memory://' : `sqlite://${join(dir, 'store.sqlite')}`;
      // The bench's own redis-server on a free port: never a Redis it did not start (6379 may hold someone's data).
      let redis: OwnRedis | undefined;
      if (store === 'redis') {
        try {
          redis = await startOwnRedis();
        } catch (err) {
          out.push({ store, turns: 0, completed: 0, turnMs: dist([]), msPerTurn: 0, note: String((err as Error).message ?? err) });
          continue;
        }
        url = redis.url;
      }
      const w = await engineWorld({ storeUrl: url, reply: SHORT });
      const turnMs: number[] = [];
      let completed = 0;
      const t0 = performance.now();
      try {
        for (let i = 0; i < 10; i++) await w.ask(`warm up ${i}`, `stw-${i}`);
        const start = performance.now();
        for (let i = 0; i < o.turns; i++) {
          const r = await within(w.ask(`question ${i}`, `st-${i % o.conversations}`), 30_000, `${store} turn`);
          if (r && !r.error) {
            completed++;
            turnMs.push(r.finishedAt - r.startedAt);
          }
        }
        out.push({ store, turns: o.turns, completed, turnMs: dist(turnMs, 2), msPerTurn: round((performance.now() - start) / o.turns, 2) });
      } catch (err) {
        out.push({
          store,
          turns: o.turns,
          completed,
          turnMs: dist(turnMs, 2),
          msPerTurn: round((performance.now() - t0) / Math.max(1, completed), 2),
          note: String(err),
        });
      } finally {
        await w.stop();
        await redis?.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
