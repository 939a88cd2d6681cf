/** Small statistics helpers for the bench (nearest-rank percentiles, rounded for reports). */

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Dist {
  n: number;
  p50: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
}

export function dist(values: number[], digits = 1): Dist {
  const r = (v: number | null) => (v === null ? null : round(v, digits));
  return {
    n: values.length,
    p50: r(percentile(values, 50)),
    p99: r(percentile(values, 99)),
    min: r(values.length ? Math.min(...values) : null),
    max: r(values.length ? Math.max(...values) : null),
  };
}

/** min / median / max, e.g. updates per reply. */
export function spread(values: number[]): { min: number | null; median: number | null; max: number | null } {
  return {
    min: values.length ? Math.min(...values) : null,
    median: percentile(values, 50),
    max: values.length ? Math.max(...values) : null,
  };
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** A wall clock with sub-millisecond resolution, comparable to Date.now(). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects after `ms` with a message naming `what` (every wait in the bench is bounded). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
