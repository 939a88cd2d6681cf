import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { SupportAnalytics } from '../../src/analytics/support-analytics.js';
import { seedWeek } from '../dashboard/seed.js';
import { runParley } from '../helpers/process.js';

/** `parley stats` as the built CLI over a sqlite store the bot would have written. */
const cwd = mkdtempSync(join(tmpdir(), 'parley-stats-cli-'));
const STORE_URL = `sqlite://${join(cwd, 'parley.sqlite')}`;
let expected: { questions: number; declined: number; handoffs: number };

beforeAll(async () => {
  const store = await openStore(STORE_URL);
  const analytics = new SupportAnalytics(store, { quietPeriodMs: 86_400_000 });
  expected = await seedWeek(analytics, Date.now());
  await analytics.idle();
  await store.close();
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const stats = (args: string[]) => runParley(['stats', ...args], { cwd, env: { STORE_URL, LOG_LEVEL: 'error' } });

describe('parley stats', () => {
  it('prints JSON, CSV and a table of the same figures', async () => {
    const json = await stats(['--since', '7d', '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.totals).toMatchObject({ questions: expected.questions, handoffs: expected.handoffs });
    expect(report.totals.sources.declined).toBe(expected.declined);
    expect(report.unanswered[0].question).toBe('Can I export invoices to PDF?');

    const csv = await stats(['--format', 'csv']);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]!.startsWith('day,questions,')).toBe(true);
    expect(rows.at(-1)!.startsWith(`total,${expected.questions},`)).toBe(true);

    const table = await stats([]);
    expect(table.stdout).toContain(`Questions: ${expected.questions}`);
    expect(table.stdout).toContain('Handed to a human: 1');
    expect(table.stdout).toContain('1. Can I export invoices to PDF? (asked 7×, unanswered 7');

    // Only yesterday and today: fewer questions.
    const recent = JSON.parse((await stats(['--since', '1d', '--format', 'json'])).stdout);
    expect(recent.totals.questions).toBeLessThan(expected.questions);
    expect(recent.days).toHaveLength(2);
  }, 60_000);

  it('rejects a bad --format or --since with usage (exit 2)', async () => {
    const bad = await stats(['--format', 'xml']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format: expected table, json or csv');
    const since = await stats(['--since', 'yesterday']);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('expected a duration like 7d');
    expect(since.stderr).toContain('--since: expected a duration like 7d, 24h, 2w or a date like 2026-11-01 (got "yesterday")');
  }, 30_000);
});
