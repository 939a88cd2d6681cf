import type { Config } from '../config/env.js';
import type { PlatformAdapter } from '../kernel/adapter.js';
import { sendJson, type HttpServer } from '../server/http.js';
import type { Store } from '../store/store.js';
import type { Metrics } from './metrics.js';
import { Readiness, modelEndpointCheck, type Check } from './readiness.js';

/** `/metrics` (Prometheus) and `/readyz` (platforms, store and model reachable; cached). */
export function mountOps(http: HttpServer, o: { config: Config; store: Store; adapters: PlatformAdapter[]; metrics: Metrics }): void {
  const checks: Record<string, Check> = {
    store: async () => {
      const kv = o.store.namespace<number>('health');
      const value = Date.now();
      await kv.set('probe', value, 60_000);
      if ((await kv.get('probe')) !== value) throw new Error('the store did not return what was written');
    },
  };
  if (o.config.llm.model) checks.model = modelEndpointCheck(o.config.llm.baseURL, o.config.llm.apiKey);
  for (const adapter of o.adapters) if (adapter.health) checks[adapter.platform] = () => adapter.health!();
  const readiness = new Readiness(checks);
  http.route({
    method: 'GET',
    path: '/readyz',
    auth: 'none',
    handler: async ({ res }) => {
      const report = await readiness.report();
      sendJson(res, report.ok && http.isStarted ? 200 : 503, report);
    },
  });
  // Public, like /healthz and /readyz: Prometheus scrapes it without credentials.
  http.route({
    method: 'GET',
    path: '/metrics',
    auth: 'none',
    handler: async ({ res }) => {
      const body = await o.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
      res.end(body);
    },
  });
}
