import { describe } from '../kernel/errors.js';

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

export interface ReadinessReport {
  ok: boolean;
  checkedAt: string;
  checks: Record<string, CheckResult>;
}

/** A check throws when its dependency is not usable. */
export type Check = () => Promise<void>;

const CHECK_TIMEOUT_MS = 5_000;
/** A failed report is kept only this long, so a dependency that recovers shows as ready within a second or two. */
const FAILED_CACHE_MS = 1_000;

/**
 * Readiness for /readyz: every check (platform connections, store, model endpoint) run in
 * parallel with a timeout, and the report cached so frequent probes stay cheap.
 */
export class Readiness {
  private cached?: { at: number; report: Promise<ReadinessReport>; ttl: number };

  constructor(
    private readonly checks: Record<string, Check>,
    private readonly cacheMs = 10_000,
  ) {}

  report(): Promise<ReadinessReport> {
    if (this.cached && Date.now() - this.cached.at < this.cached.ttl) return this.cached.report;
    const report = this.run();
    const entry = { at: Date.now(), report, ttl: this.cacheMs };
    this.cached = entry;
    void report.then((r) => {
      if (!r.ok) entry.ttl = Math.min(this.cacheMs, FAILED_CACHE_MS);
    });
    return report;
  }

  private async run(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      Object.entries(this.checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
        const started = Date.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            check(),
            new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS))),
          ]);
          return [name, { ok: true, ms: Date.now() - started }];
        } catch (err) {
          return [name, { ok: false, ms: Date.now() - started, error: describe(err) }];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ok: entries.every(([, r]) => r.ok), checkedAt: new Date().toISOString(), checks };
  }
}

/** The model endpoint answers `GET /models` (OpenAI-compatible servers all serve it). */
export function modelEndpointCheck(baseURL: string, apiKey?: string): Check {
  return async () => {
    const res = await fetch(`${baseURL}/models`, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) throw new Error(`the model endpoint refused the API key (${res.status})`);
    // Some gateways do not list models (404/405); reaching them is what matters here.
    if (res.status >= 500) throw new Error(`the model endpoint answered ${res.status}`);
  };
}
