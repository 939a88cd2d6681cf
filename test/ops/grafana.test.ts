import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/ops/metrics.js';

describe('the example Grafana dashboard', () => {
  it('queries only metrics that Parley exports', async () => {
    const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/grafana/parley-dashboard.json'), 'utf8'));
    const queried = new Set<string>();
    for (const panel of dashboard.panels)
      for (const t of panel.targets) for (const m of t.expr.matchAll(/parley_[a-z_]+/g)) queried.add(m[0].replace(/_(bucket|sum|count)$/, ''));
    const exported = new Set((await new Metrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
    expect(queried.size).toBeGreaterThan(8);
    for (const name of queried) expect(exported, name).toContain(name);
  });
});
