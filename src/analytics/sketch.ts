/**
 * A mergeable latency sketch (the DDSketch idea): values fall into logarithmic bins, so a
 * day's bucket stays small however many answers it holds, buckets merge exactly (add the
 * counts), and any quantile is within RELATIVE_ACCURACY of the true value.
 */
export const RELATIVE_ACCURACY = 0.02;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);

/** Bin index → count; JSON-friendly so it is stored as is. */
export interface SketchData {
  count: number;
  bins: Record<string, number>;
}

export function emptySketch(): SketchData {
  return { count: 0, bins: {} };
}

function binOf(ms: number): number {
  // Everything up to 1 ms is one bin: nobody can see a difference below that.
  return ms <= 1 ? 0 : Math.ceil(Math.log(ms) / LOG_GAMMA);
}

function binValue(bin: number): number {
  return bin === 0 ? 1 : (2 * GAMMA ** bin) / (GAMMA + 1);
}

export function addToSketch(s: SketchData, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) return;
  const b = String(binOf(ms));
  s.bins[b] = (s.bins[b] ?? 0) + 1;
  s.count++;
}

export function mergeSketches(into: SketchData, from: SketchData): SketchData {
  for (const [b, n] of Object.entries(from.bins)) into.bins[b] = (into.bins[b] ?? 0) + n;
  into.count += from.count;
  return into;
}

/** The q-quantile (0–1) in ms, or undefined for an empty sketch. Nearest-rank, like the usual p50/p95. */
export function quantile(s: SketchData, q: number): number | undefined {
  if (s.count === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * s.count));
  let seen = 0;
  for (const b of Object.keys(s.bins)
    .map(Number)
    .sort((a, c) => a - c)) {
    seen += s.bins[String(b)]!;
    if (seen >= rank) return Math.round(binValue(b));
  }
  return undefined;
}
