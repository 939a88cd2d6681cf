import { emptySketch, mergeSketches, quantile, type SketchData } from './sketch.js';
import { daysBetween, dayOf, type SupportAnalytics, type SupportBucket, type TopQuestion } from './support-analytics.js';

/**
 * The figures every view shows (`parley stats`, `/parley stats`, the dashboard): totals, a
 * series per day, breakdowns per profile and channel, and the questions to document next.
 */
export interface Totals {
  questions: number;
  sources: Record<string, number>;
  handoffs: number;
  up: number;
  down: number;
  /** 👍 / (👍 + 👎); null without votes. */
  upRatio: number | null;
  threads: number;
  resolved: number;
  unresolved: number;
  assumedResolved: number;
  /** (resolved + assumed) / (resolved + assumed + unresolved); null while no thread is settled. */
  resolutionRate: number | null;
  firstVisibleP50Ms: number | null;
  firstVisibleP95Ms: number | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** Mean groundedness of the model answers that had passages; null without any. */
  groundedness: number | null;
  groundedAnswers: number;
  /** Answers queued for review for low groundedness. */
  queuedForReview: number;
  /** Answers that were not whole, and of them those cut at the length limit (raise maxOutputTokens when this grows). */
  incomplete: number;
  cutAtLength: number;
}

export interface SupportReport {
  since: string;
  until: string;
  filter: { profile?: string; platform?: string };
  totals: Totals;
  days: (Totals & { day: string })[];
  profiles: (Totals & { profile: string })[];
  channels: (Totals & { channel: string })[];
  /** Most frequent questions that went unanswered, got a 👎 or went to a human. */
  unanswered: TopQuestion[];
}

export interface ReportQuery {
  /** ms since epoch; whole UTC days from this one's day. */
  since: number;
  until: number;
  profile?: string;
  platform?: string;
  /** How many unanswered questions to list (default 10). */
  top?: number;
}

export async function buildReport(analytics: SupportAnalytics, q: ReportQuery): Promise<SupportReport> {
  await analytics.sweep();
  const keep = (b: { profile: string; channel?: string }) =>
    (!q.profile || b.profile === q.profile) && (!q.platform || !b.channel || b.channel.startsWith(`${q.platform}:`));
  const buckets = (await analytics.buckets(q.since, q.until)).filter(keep);
  const group = <K extends string>(key: (b: SupportBucket) => string, name: K) =>
    [...groupBy(buckets, key)].map(([k, bs]) => ({ [name]: k, ...totalsOf(bs) }) as Totals & Record<K, string>);
  const byDay = groupBy(buckets, (b) => b.day);
  const top = (await analytics.topQuestions(q.since, q.until))
    .filter((t) => keep(t) && t.unanswered + t.down + t.handoffs > 0)
    .sort((a, b) => score(b) - score(a) || b.asked - a.asked)
    .slice(0, q.top ?? 10);
  return {
    since: dayOf(q.since),
    until: dayOf(q.until),
    filter: { profile: q.profile, platform: q.platform },
    totals: totalsOf(buckets),
    // Every day of the range, empty ones included, so charts show gaps as zeros.
    days: daysBetween(q.since, q.until).map((day) => ({ day, ...totalsOf(byDay.get(day) ?? []) })),
    profiles: group((b) => b.profile, 'profile').sort((a, b) => b.questions - a.questions),
    channels: group((b) => b.channel, 'channel').sort((a, b) => b.questions - a.questions),
    unanswered: top,
  };
}

const score = (t: TopQuestion) => t.unanswered + t.down + t.handoffs;

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const i of items) {
    const k = key(i);
    const list = m.get(k);
    if (list) list.push(i);
    else m.set(k, [i]);
  }
  return m;
}

export function totalsOf(buckets: SupportBucket[]): Totals {
  const sum = (f: (b: SupportBucket) => number) => buckets.reduce((n, b) => n + f(b), 0);
  const sources: Record<string, number> = {};
  const sketch: SketchData = emptySketch();
  for (const b of buckets) {
    for (const [s, n] of Object.entries(b.sources)) sources[s] = (sources[s] ?? 0) + n;
    mergeSketches(sketch, b.firstVisible);
  }
  const up = sum((b) => b.up);
  const down = sum((b) => b.down);
  const resolved = sum((b) => b.resolved);
  const assumed = sum((b) => b.assumed);
  const unresolved = sum((b) => b.unresolved);
  const settled = resolved + assumed + unresolved;
  const groundedAnswers = sum((b) => b.groundedAnswers ?? 0);
  return {
    questions: sum((b) => b.questions),
    sources,
    handoffs: sum((b) => b.handoffs),
    up,
    down,
    upRatio: up + down ? up / (up + down) : null,
    threads: sum((b) => b.threads),
    resolved,
    unresolved,
    assumedResolved: assumed,
    resolutionRate: settled ? (resolved + assumed) / settled : null,
    firstVisibleP50Ms: quantile(sketch, 0.5) ?? null,
    firstVisibleP95Ms: quantile(sketch, 0.95) ?? null,
    promptTokens: sum((b) => b.promptTokens),
    completionTokens: sum((b) => b.completionTokens),
    costUsd: sum((b) => b.costMicros) / 1_000_000,
    groundedness: groundedAnswers ? sum((b) => b.groundednessSum ?? 0) / groundedAnswers : null,
    groundedAnswers,
    queuedForReview: sum((b) => b.queuedForReview ?? 0),
    incomplete: sum((b) => b.incomplete ?? 0),
    cutAtLength: sum((b) => b.cutAtLength ?? 0),
  };
}

/**
 * `7d`, `24h`, `2w`, or a date `2026-11-01` → ms since epoch (relative to `now`). The error names
 * no flag or field: callers prefix theirs (`--since: ` on the command line, `since: ` over HTTP).
 */
export function parseSince(v: string, now: number): number {
  const rel = /^(\d+(?:\.\d+)?)([hdw])$/.exec(v.trim());
  if (rel) return now - Number(rel[1]) * { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }[rel[2] as 'h' | 'd' | 'w'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`expected a duration like 7d, 24h, 2w or a date like 2026-11-01 (got "${v}")`);
  return t;
}

const pct = (r: number | null) => (r === null ? '–' : `${Math.round(r * 100)}%`);
const ms = (v: number | null) => (v === null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v} ms`);
const usd = (v: number) => `$${v.toFixed(v < 1 ? 4 : 2)}`;

/** Source names as people say them. */
export const SOURCE_LABELS: Record<string, string> = {
  model: 'model',
  faq: 'FAQ',
  knowledge: 'knowledge only',
  cache: 'cached',
  declined: 'declined',
  error: 'failed',
};

/** The answer to "how many questions, how many went to a human, what did it cost, what to document next". */
export function formatSummary(r: SupportReport): string {
  const t = r.totals;
  const sources = Object.entries(t.sources)
    .sort(([, a], [, b]) => b - a)
    .map(([s, n]) => `${SOURCE_LABELS[s] ?? s} ${n}`)
    .join(', ');
  const lines = [
    `Support stats ${r.since} → ${r.until}${r.filter.profile ? ` (profile ${r.filter.profile})` : ''}`,
    `Questions: ${t.questions}${sources ? ` (${sources})` : ''}`,
    `Handed to a human: ${t.handoffs}`,
    `👍 ratio: ${pct(t.upRatio)} (${t.up} 👍, ${t.down} 👎) · resolution rate: ${pct(t.resolutionRate)} of ${t.resolved + t.assumedResolved + t.unresolved} settled threads`,
    `First visible text: p50 ${ms(t.firstVisibleP50Ms)}, p95 ${ms(t.firstVisibleP95Ms)}`,
    `Tokens: ${(t.promptTokens + t.completionTokens).toLocaleString('en-US')} · estimated cost ${usd(t.costUsd)}`,
    `Groundedness: ${t.groundedness === null ? '–' : t.groundedness.toFixed(2)} (mean of ${t.groundedAnswers} answers with passages) · ${t.queuedForReview} queued for review (see parley review)`,
    ...(t.incomplete ? [`Incomplete answers: ${t.incomplete} (${t.cutAtLength} cut at the length limit)`] : []),
  ];
  if (r.unanswered.length) {
    lines.push('Document next (unanswered, 👎 or handed off):');
    r.unanswered.forEach((q, i) => lines.push(`${i + 1}. ${q.question} (asked ${q.asked}×, unanswered ${q.unanswered}, 👎 ${q.down}, handoffs ${q.handoffs})`));
  }
  return lines.join('\n');
}

const COLUMNS: [string, (t: Totals) => string | number][] = [
  ['questions', (t) => t.questions],
  ['model', (t) => t.sources.model ?? 0],
  ['faq', (t) => t.sources.faq ?? 0],
  ['knowledge', (t) => t.sources.knowledge ?? 0],
  ['declined', (t) => t.sources.declined ?? 0],
  ['handoffs', (t) => t.handoffs],
  ['up', (t) => t.up],
  ['down', (t) => t.down],
  ['up_ratio', (t) => (t.upRatio === null ? '' : t.upRatio.toFixed(3))],
  ['resolution_rate', (t) => (t.resolutionRate === null ? '' : t.resolutionRate.toFixed(3))],
  ['p50_ms', (t) => t.firstVisibleP50Ms ?? ''],
  ['p95_ms', (t) => t.firstVisibleP95Ms ?? ''],
  ['tokens', (t) => t.promptTokens + t.completionTokens],
  ['cost_usd', (t) => t.costUsd.toFixed(4)],
  ['groundedness', (t) => (t.groundedness === null ? '' : t.groundedness.toFixed(3))],
  ['low_grounded', (t) => t.queuedForReview],
];

/** One row per day (and a total row), for spreadsheets. */
export function formatCsv(r: SupportReport): string {
  const esc = (v: string | number) => (/[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
  const rows = [['day', ...COLUMNS.map(([c]) => c)].join(',')];
  for (const d of r.days) rows.push([d.day, ...COLUMNS.map(([, f]) => f(d))].map(esc).join(','));
  rows.push(['total', ...COLUMNS.map(([, f]) => f(r.totals))].map(esc).join(','));
  return rows.join('\n') + '\n';
}

/** A fixed-width table per day, then the summary. */
export function formatTable(r: SupportReport): string {
  const header = ['day', ...COLUMNS.map(([c]) => c)];
  const body = [...r.days.map((d) => [d.day, ...COLUMNS.map(([, f]) => String(f(d)))]), ['total', ...COLUMNS.map(([, f]) => String(f(r.totals)))]];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...body.map(line), '', formatSummary(r)].join('\n') + '\n';
}
