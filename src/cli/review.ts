import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { createCore } from '../app.js';
import { parseSince } from '../analytics/report.js';
import { dayOf } from '../analytics/support-analytics.js';
import { REVIEW_REASONS, REVIEW_STATUSES, type ReviewFlag, type ReviewItem, type ReviewReason, type ReviewStatus } from '../review/queue.js';
import { ReviewError, type Correction, type ReviewService } from '../review/service.js';
import { cliLogger, configOrExit, EXIT_CONFIG, EXIT_FAILED, fail } from './common.js';

export const usage = [
  'parley review [--since 7d] [--status open|good|bad|corrected|all] [--reason low_groundedness|down|handoff] [--profile P] [--limit 50] [--format table|json]',
  'parley review show ID [--format table|json]',
  'parley review good|bad ID [--note "…"] [--by NAME]',
  'parley review correct ID (--answer "…" | --answer-file PATH|-) [--question "the FAQ wording"] [--by NAME] [--note "…"]',
].join('\n       ');

/**
 * `parley review` (issue 12): the weak answers the bot queued in the store it writes to
 * (STORE_URL), weakest first; `show` one in full, mark it `good` or `bad`, or `correct` it into
 * the FAQ so the same question is answered from there next time. Everything but the output
 * goes to stderr, so `--format json` pipes cleanly.
 */
export async function review(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  switch (first) {
    case 'show':
      return show(rest);
    case 'good':
    case 'bad':
      return mark(first, rest);
    case 'correct':
      return correct(rest);
    default:
      // Anything else is the list (`parley review --since 1d`); a stray word is a typo of a subcommand.
      if (first !== undefined && !first.startsWith('-')) usageError(`unknown review command "${first}" (expected show, good, bad or correct)`);
      return list(argv);
  }
}

async function list(argv: string[]): Promise<void> {
  const { values } = parsed(() =>
    parseArgs({
      args: argv,
      options: {
        since: { type: 'string', default: '7d' },
        status: { type: 'string', default: 'open' },
        reason: { type: 'string' },
        profile: { type: 'string' },
        format: { type: 'string', default: 'table' },
        limit: { type: 'string', default: '50' },
      },
    }),
  );
  const status = values.status as ReviewStatus | 'all';
  if (status !== 'all' && !REVIEW_STATUSES.includes(status)) usageError(`--status: expected ${REVIEW_STATUSES.join(', ')} or all (got "${values.status}")`);
  const reason = values.reason as ReviewReason | undefined;
  if (reason !== undefined && !REVIEW_REASONS.includes(reason)) usageError(`--reason: expected ${REVIEW_REASONS.join(', ')} (got "${values.reason}")`);
  const format = formatOf(values.format);
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) usageError(`--limit: expected a whole number of items, at least 1 (got "${values.limit}")`);
  let since: number;
  try {
    since = parseSince(values.since!, Date.now());
  } catch (err) {
    usageError(`--since: ${err instanceof Error ? err.message : String(err)}`);
  }
  await withReview(async (r) => {
    const all = await r.list({ since, status, reason, profile: values.profile });
    const items = all.slice(0, limit);
    if (format === 'json') return out(`${JSON.stringify({ since: new Date(since).toISOString(), total: all.length, items }, null, 2)}\n`);
    out(formatList(items, all.length, { since, status, reason, profile: values.profile }));
  });
}

async function show(argv: string[]): Promise<void> {
  const { values, positionals } = parsed(() => parseArgs({ args: argv, allowPositionals: true, options: { format: { type: 'string', default: 'table' } } }));
  const id = idOf(positionals);
  const format = formatOf(values.format);
  await withReview(async (r) => {
    const item = await r.get(id);
    if (!item) throw new ReviewError('review_not_found', `no review item "${id}" (it may be older than the retention period)`);
    out(format === 'json' ? `${JSON.stringify(item, null, 2)}\n` : formatItem(item, r.threshold));
  });
}

async function mark(verdict: 'good' | 'bad', argv: string[]): Promise<void> {
  const { values, positionals } = parsed(() =>
    parseArgs({ args: argv, allowPositionals: true, options: { note: { type: 'string' }, by: { type: 'string' } } }),
  );
  const id = idOf(positionals);
  const by = values.by ?? reviewer();
  await withReview(async (r) => {
    const item = await r.mark(id, verdict, by, values.note);
    out(`Marked ${item.id} ${verdict} (by ${by}): ${clip(item.question, 80)}\n`);
  });
}

async function correct(argv: string[]): Promise<void> {
  const { values, positionals } = parsed(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        answer: { type: 'string' },
        'answer-file': { type: 'string' },
        question: { type: 'string' },
        note: { type: 'string' },
        by: { type: 'string' },
      },
    }),
  );
  const id = idOf(positionals);
  if (values.answer !== undefined && values['answer-file'] !== undefined) usageError('--answer and --answer-file: give one of them, not both');
  if (values.answer === undefined && values['answer-file'] === undefined)
    usageError('--answer: the corrected answer is required (or --answer-file PATH, - for stdin)');
  // Read before connecting anywhere: a missing file is a usage error, not a half-done correction.
  const answer = values.answer ?? (await answerFile(values['answer-file']!));
  if (!answer.trim()) usageError(`${values.answer !== undefined ? '--answer' : '--answer-file'}: the corrected answer is empty`);
  const by = values.by ?? reviewer();
  if (values.question !== undefined && values.question.trim().length < 3) usageError('--question: the FAQ question needs at least 3 characters');
  await withReview(async (r) => out(formatCorrection(await r.correct(id, { answer, by, note: values.note, question: values.question }))));
}

/** The review service over the real store, settings and knowledge, closed in order however the command ends. */
async function withReview(run: (review: ReviewService) => Promise<void>): Promise<void> {
  const config = configOrExit();
  const core = await createCore(config, cliLogger(config, true), undefined, { watch: false });
  try {
    await run(core.support.review);
  } catch (err) {
    // Expected failures (unknown id, no knowledge folder) are one line; anything else keeps its stack.
    if (!(err instanceof ReviewError)) throw err;
    process.stderr.write(`parley: ${err.message}\n`);
    process.exitCode = EXIT_FAILED;
  } finally {
    core.close();
    await core.engine.drain();
    await core.support.review.idle();
    await core.store.close();
  }
}

function formatList(items: ReviewItem[], total: number, q: { since: number; status: ReviewStatus | 'all'; reason?: ReviewReason; profile?: string }): string {
  const filters = [q.status !== 'open' ? `status ${q.status}` : '', q.reason ? `reason ${q.reason}` : '', q.profile ? `profile ${q.profile}` : ''].filter(
    Boolean,
  );
  const filterNote = filters.length ? ` (${filters.join(', ')})` : '';
  if (!items.length) return `No answers to review since ${dayOf(q.since)}${filterNote}.\n`;
  const withStatus = q.status === 'all';
  const rows = items.map((i) => [i.id, dayOf(i.flaggedAt), ...(withStatus ? [i.status] : []), i.profile, clip(whyOf(i), 48)]);
  const header = ['ID', 'FLAGGED', ...(withStatus ? ['STATUS'] : []), 'PROFILE', 'WHY'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  // The question takes what is left of the terminal (piped output: a generous 120 columns).
  const width = process.stdout.columns || 120;
  const questionWidth = Math.max(30, width - widths.reduce((a, w) => a + w + 2, 0) - 1);
  const lines = [line([...header, 'QUESTION'])];
  items.forEach((item, n) => {
    lines.push(line([...rows[n]!, clip(item.question, questionWidth)]).trimEnd());
    lines.push(`  ↳ ${clip(item.answer, Math.max(30, width - 5))}`);
  });
  const shown = total > items.length ? `the weakest ${items.length} of ` : '';
  const count = `${shown}${total} ${total === 1 ? 'answer' : 'answers'}${q.status === 'open' ? ' to review' : ''} since ${dayOf(q.since)}${filterNote}${shown ? ' (--limit N for more)' : ''}`;
  lines.push('', `${count} · details: parley review show ID · fix: parley review correct ID --answer "…"`);
  return `${lines.join('\n')}\n`;
}

/** Why an item is queued, in a few words: "grounded 0.33 · 👎 'wrong price' · handed off". */
function whyOf(i: ReviewItem): string {
  const by = (reason: ReviewReason) => i.flags.filter((f) => f.reason === reason);
  const noted = (label: string, flags: ReviewFlag[]) => {
    const note = flags.find((f) => f.note)?.note;
    return `${label}${flags.length > 1 ? `×${flags.length}` : ''}${note ? ` '${clip(note, 30)}'` : ''}`;
  };
  const parts: string[] = [];
  if (by('low_groundedness').length) parts.push(`grounded ${score(i.groundedness)}`);
  if (by('down').length) parts.push(noted('👎', by('down')));
  if (by('handoff').length) parts.push(noted('handed off', by('handoff')));
  return parts.join(' · ');
}

function formatItem(i: ReviewItem, threshold: number): string {
  const lines = [
    `Review ${i.id} · ${i.status} · profile ${i.profile} · ${i.channel} · answered ${when(i.answeredAt)}`,
    '',
    'Question:',
    indent(i.question),
    '',
    `Answer (${i.source}):`,
    indent(i.answer),
    '',
  ];
  if (i.groundedness !== undefined)
    lines.push(`Groundedness: ${score(i.groundedness)}${i.groundedness < threshold ? ` (under the threshold ${threshold})` : ''}`);
  if (i.unsupported.length) {
    lines.push('Not backed by the passages:');
    for (const u of i.unsupported) lines.push(`  - ${u.text}${u.inventedNumbers.length ? `  [invented numbers: ${u.inventedNumbers.join(', ')}]` : ''}`);
  }
  if (i.groundedness !== undefined || i.unsupported.length) lines.push('');
  lines.push(i.passages.length ? 'Passages given to the model:' : 'Passages given to the model: none');
  i.passages.forEach((p, n) => {
    const state = p.text === undefined ? ' (no longer in the knowledge base)' : p.changed ? ' (changed since the answer)' : '';
    lines.push(`  [${n + 1}] ${p.title} — ${p.location}${state}`);
    if (p.text !== undefined) lines.push(indent(p.text, '      '));
  });
  lines.push('', 'Flags:');
  for (const f of i.flags) {
    const who = f.user ? ` by ${f.user.name ? `${f.user.name} (${f.user.id})` : f.user.id}` : '';
    const what = f.reason === 'low_groundedness' ? `low groundedness (${score(i.groundedness)})` : f.reason === 'down' ? '👎' : 'handed off to a human';
    lines.push(`  - ${what}${who}, ${when(f.at)}${f.note ? `: "${f.note}"` : ''}`);
  }
  lines.push('');
  const r = i.review;
  if (!r) lines.push(`Not reviewed yet: parley review good|bad ${i.id}, or parley review correct ${i.id} --answer "…"`);
  else {
    lines.push(`Review: ${r.verdict} by ${r.by}, ${when(r.at)}${r.note ? `: "${r.note}"` : ''}`);
    if (r.faq) lines.push(`FAQ entry: ${r.faq.id} in ${r.faq.file}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatCorrection(c: Correction): string {
  const lines = [`Saved the corrected answer to ${c.faq.file}: ${c.faq.created ? 'new' : 'updated'} FAQ entry "${c.faq.id}".`];
  lines.push(
    c.answersFromFaq
      ? `"${clip(c.question, 80)}" is now answered from the FAQ, with no model call.`
      : `Not answered from the FAQ yet: a closer entry may match "${clip(c.question, 80)}" first; check with: parley ask "${c.question}"`,
  );
  if (c.alsoCorrected.length) lines.push(`Also closed (the same question): ${c.alsoCorrected.join(', ')}`);
  lines.push(`${c.faq.file} is a normal knowledge file: review and commit it in git like any other.`);
  return `${lines.join('\n')}\n`;
}

async function answerFile(path: string): Promise<string> {
  try {
    if (path !== '-') return await readFile(path, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    usageError(`--answer-file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Verdicts are signed; without --by, the person at the terminal (the OS account, not the environment). */
function reviewer(): string {
  try {
    return userInfo().username;
  } catch {
    return 'parley-cli';
  }
}

/** parseArgs errors ("Unknown option '--x'. To specify…") as one line naming the flag, exit 2. */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    usageError((err instanceof Error ? err.message : String(err)).split(/\.\s/)[0]!);
  }
}

function idOf(positionals: string[]): string {
  if (positionals.length !== 1) usageError(positionals.length ? `expected one review item id (got ${positionals.length})` : 'no review item id given');
  return positionals[0]!;
}

function formatOf(v: string | undefined): 'table' | 'json' {
  if (v !== 'table' && v !== 'json') usageError(`--format: expected table or json (got "${v}")`);
  return v;
}

function usageError(message: string): never {
  fail(`${message}\nusage: ${usage}`, EXIT_CONFIG);
}

function out(text: string): void {
  process.stdout.write(text);
}

const score = (g: number | undefined) => (g === undefined ? '–' : g.toFixed(2));
const when = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const indent = (text: string, pad = '  ') =>
  text
    .split('\n')
    .map((l) => `${pad}${l}`.trimEnd())
    .join('\n');

/** One line of at most `max` characters (newlines and runs of spaces folded). */
function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}
