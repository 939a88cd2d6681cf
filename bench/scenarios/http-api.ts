/**
 * HTTP API, measured the way a user would: `parley start` as its own process (API_KEYS set;
 * the memory store, then the default sqlite store), the model in another (bench/lib/model-process.ts), driven over
 * `POST /api/v1/ask` with SSE — beside a bare relay (bench/lib/bare-relay.mjs) started in the
 * same run against the same model. CPU and RSS are read from /proc for the server's pid only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, round, sleep, within } from '../lib/stats.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const API_KEY = 'bench-key-0123456789';
/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel config. */
const CLOCK_TICKS_PER_S = 100;
const SHORT_ANSWER = 'Restart the agent and try again.';

export interface ServerFigures {
  idleRssMb: number;
  repliesPerSecond: number;
  completed: number;
  cpuMsPerReply: number;
  rssAfterTrafficMb: number;
  /** RSS with `streams` replies open at once, less the RSS just before, per reply. */
  kbPerStream: number;
  streamsOpen: number;
  rssAtStreamsMb: number;
  peakRssMb: number;
}

export interface HttpApiResult {
  replies: number;
  concurrency: number;
  streams: number;
  parley: ServerFigures;
  relay: ServerFigures;
  ratios: Ratios;
  /** `parley start` on the default store (sqlite, a fresh file); absent in results from before it was measured. */
  parleySqlite?: ServerFigures;
  sqliteRatios?: Ratios;
  /** Each run's figures (`parley`, `relay` and `ratios` are from their medians); absent in results from before runs were repeated. */
  runs?: { parley: ServerFigures; relay: ServerFigures; parleySqlite?: ServerFigures }[];
}

export interface Ratios {
  repliesPerSecond: number;
  cpuPerReply: number;
  idleRss: number;
  memoryPerStream: number;
  peakRss: number;
}

interface Proc {
  child: ChildProcess;
  port: number;
}

function startProcess(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  what: string,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(cmd, args, { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return within(
    new Promise((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        if (out.length < 100_000) out += d.toString();
        const m = ready.exec(out);
        if (m) resolve({ child, match: m });
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()).length > 100_000 && (err = err.slice(-10_000)));
      child.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${err.slice(-2000)}`)));
    }),
    30_000,
    `${what} to start`,
  );
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS_PER_S;
}

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

interface AskOutcome {
  done: boolean;
  text: string;
}

/** One SSE ask; resolves at `done`, or (with `onFirstDelta`) keeps reading until aborted. */
function ask(port: number, agent: Agent, question: string, user: string, signal?: AbortSignal, onFirstDelta?: () => void): Promise<AskOutcome> {
  const body = JSON.stringify({ question, user });
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/ask',
        method: 'POST',
        agent,
        signal,
        headers: {
          authorization: `Bearer ${API_KEY}`,
          accept: 'text/event-stream',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let buf = '';
        let text = '';
        let seen = false;
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const name = /^event: (\w+)/m.exec(ev)?.[1];
            const data = /^data: (.*)$/m.exec(ev)?.[1];
            if (name === 'delta' && data) {
              text += JSON.parse(data).text;
              if (!seen) (seen = true), onFirstDelta?.();
            }
            if (name === 'done' && data) return resolve({ done: true, text: JSON.parse(data).text });
          }
        });
        res.on('end', () => resolve({ done: false, text }));
        res.on('error', () => resolve({ done: false, text }));
      },
    );
    req.on('error', () => resolve({ done: false, text: '' }));
    req.end(body);
  });
}

async function measure(p: Proc, o: { replies: number; concurrency: number; streams: number }): Promise<ServerFigures> {
  const pid = p.child.pid!;
  await sleep(2_000); // settled after start, before any traffic
  const idleRssMb = status(pid, 'VmRSS');
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  for (let i = 0; i < 40; i++) await ask(p.port, agent, `warm up ${i}`, `warm-${i % 20}`); // JIT, connections
  let next = 0;
  let completed = 0;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await within(
    Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < o.replies) {
          const i = next++;
          const r = await ask(p.port, agent, `question ${i}`, `user-${i}`);
          if (r.done && r.text === SHORT_ANSWER) completed++;
        }
      }),
    ),
    240_000,
    'HTTP API throughput',
  );
  const wallMs = performance.now() - t0;
  agent.destroy();
  await sleep(1_000);
  // CPU counted until a second after the last reply: work a server defers past its answers
  // (writes queued behind each other, collections) is part of what a reply costs.
  const cpu = cpuMs(pid) - cpu0;
  const rssAfterTrafficMb = status(pid, 'VmRSS');

  // Concurrent streams: every client has its first words, the model holds every stream open.
  const streamAgent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const abort = new AbortController();
  setMaxListeners(o.streams + 10, abort.signal); // one listener per stream, by design
  let open = 0;
  let allOpen!: () => void;
  const opened = new Promise<void>((r) => (allOpen = r));
  const before = status(pid, 'VmRSS');
  const pending = Array.from({ length: o.streams }, (_, i) =>
    ask(p.port, streamAgent, `please hold ${i}`, `holder-${i}`, abort.signal, () => ++open === o.streams && allOpen()),
  );
  if (o.streams === 0) allOpen();
  await within(opened, 120_000, `${o.streams} open streams`).catch(() => undefined);
  await sleep(1_000);
  const rssAtStreamsMb = status(pid, 'VmRSS');
  const peakRssMb = status(pid, 'VmHWM');
  const streamsOpen = open;
  abort.abort();
  await Promise.all(pending);
  streamAgent.destroy();
  return {
    idleRssMb: round(idleRssMb, 1),
    repliesPerSecond: round((completed / wallMs) * 1000, 1),
    completed,
    cpuMsPerReply: round(cpu / Math.max(1, completed), 2),
    rssAfterTrafficMb: round(rssAfterTrafficMb, 1),
    kbPerStream: round(((rssAtStreamsMb - before) * 1024) / Math.max(1, streamsOpen), 1),
    streamsOpen,
    rssAtStreamsMb: round(rssAtStreamsMb, 1),
    peakRssMb: round(peakRssMb, 1),
  };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((r) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', () => (clearTimeout(t), r()));
    child.kill('SIGTERM');
  });
}

/** Field by field, the median of several runs' figures (nearest rank: the lower middle of an even count). */
function medianFigures(runs: ServerFigures[]): ServerFigures {
  const out = { ...runs[0]! };
  for (const key of Object.keys(out) as (keyof ServerFigures)[]) {
    out[key] = percentile(
      runs.map((f) => f[key]),
      50,
    )!;
  }
  return out;
}

/**
 * `runs` times each server, fresh processes, alternating Parley and the relay. The memory rows
 * depend on when V8 happens to collect (a mark-compact just before the streams open, or not),
 * so one run is one draw: the report gives the median of every figure and each run's memory.
 */
export async function httpApi(o: { replies: number; concurrency: number; streams: number; runs?: number }): Promise<HttpApiResult> {
  const model = await startProcess(process.execPath, ['--import', 'tsx', 'bench/lib/model-process.ts'], {}, /^(http:\S+)\n/m, 'the model process');
  const modelEnv = { OPENAI_BASE_URL: model.match[1]!, OPENAI_API_KEY: 'k', OPENAI_MODEL: 'fake-model' };
  const load = { replies: o.replies, concurrency: o.concurrency, streams: o.streams };
  try {
    const sha = createHash('sha256').update(API_KEY).digest('hex');
    const runs: { parley: ServerFigures; relay: ServerFigures; parleySqlite: ServerFigures }[] = [];
    const measureParley = async (storeUrl: string): Promise<ServerFigures> => {
      const parley = await startProcess(
        process.execPath,
        // BENCH_PARLEY_NODE_ARGS, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof, to profile the server under this load.
        [...(process.env.BENCH_PARLEY_NODE_ARGS ?? '').split(' ').filter(Boolean), 'dist/cli/main.js', 'start'],
        { ...modelEnv, STORE_URL: storeUrl, API_KEYS: `bench:${sha}`, PORT: '0', NODE_ENV: 'production' },
        /"port":(\d+)[^\n]*serving HTTP only/,
        'parley start',
      );
      try {
        return await measure({ child: parley.child, port: Number(parley.match[1]) }, load);
      } finally {
        await stop(parley.child);
      }
    };
    for (let i = 0; i < Math.max(1, o.runs ?? 1); i++) {
      const parleyFigures = await measureParley('memory://');
      const relay = await startProcess(process.execPath, ['bench/lib/bare-relay.mjs'], { ...modelEnv, PORT: '0' }, /listening (\d+)/, 'the bare relay');
      let relayFigures: ServerFigures;
      try {
        relayFigures = await measure({ child: relay.child, port: Number(relay.match[1]) }, load);
      } finally {
        await stop(relay.child);
      }
      // The default store, as `parley start` runs with no STORE_URL: a fresh sqlite file.
      const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
      let sqliteFigures: ServerFigures;
      try {
        sqliteFigures = await measureParley(`sqlite://${join(dir, 'parley.sqlite')}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      runs.push({ parley: parleyFigures, relay: relayFigures, parleySqlite: sqliteFigures });
    }
    const parleyFigures = medianFigures(runs.map((r) => r.parley));
    const relayFigures = medianFigures(runs.map((r) => r.relay));
    const sqliteFigures = medianFigures(runs.map((r) => r.parleySqlite));
    const r = (a: number, b: number) => round(a / Math.max(1e-9, b), 2);
    const ratios = (f: ServerFigures): Ratios => ({
      repliesPerSecond: r(f.repliesPerSecond, relayFigures.repliesPerSecond),
      cpuPerReply: r(f.cpuMsPerReply, relayFigures.cpuMsPerReply),
      idleRss: r(f.idleRssMb, relayFigures.idleRssMb),
      memoryPerStream: r(f.kbPerStream, relayFigures.kbPerStream),
      peakRss: r(f.peakRssMb, relayFigures.peakRssMb),
    });
    return {
      ...load,
      parley: parleyFigures,
      relay: relayFigures,
      ratios: ratios(parleyFigures),
      parleySqlite: sqliteFigures,
      sqliteRatios: ratios(sqliteFigures),
      runs,
    };
  } finally {
    await stop(model.child);
  }
}
