import { parseArgs } from 'node:util';
import { openStore } from '../store/store.js';
import { SupportAnalytics } from '../analytics/support-analytics.js';
import { buildReport, formatCsv, formatTable, parseSince } from '../analytics/report.js';
import { configOrExit, EXIT_CONFIG, fail } from './common.js';

export const usage = 'parley stats [--since 7d] [--format table|json|csv] [--profile P] [--platform P]';

/**
 * `parley stats`: the support figures from the store the bot writes to (STORE_URL): questions,
 * answer sources, handoffs, 👍 ratio, resolution rate, latency, tokens and cost, and the
 * questions to document next. The same report as `/parley stats` and the dashboard.
 */
export async function stats(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      since: { type: 'string', default: '7d' },
      format: { type: 'string', default: 'table' },
      profile: { type: 'string' },
      platform: { type: 'string' },
    },
  });
  const format = values.format;
  if (format !== 'table' && format !== 'json' && format !== 'csv')
    fail(`--format: expected table, json or csv (got "${format}")\nusage: ${usage}`, EXIT_CONFIG);
  const now = Date.now();
  let since: number;
  try {
    since = parseSince(values.since!, now);
  } catch (err) {
    fail(`--since: ${err instanceof Error ? err.message : String(err)}\nusage: ${usage}`, EXIT_CONFIG);
  }
  const config = configOrExit();
  const store = await openStore(config.store.url);
  try {
    const analytics = new SupportAnalytics(store, { quietPeriodMs: config.support.quietPeriodMs });
    const report = await buildReport(analytics, { since, until: now, profile: values.profile, platform: values.platform });
    const out = format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'csv' ? formatCsv(report) : formatTable(report);
    process.stdout.write(out);
  } finally {
    await store.close();
  }
}
