import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type YAMLMap } from 'yaml';
import { ConfigError } from '../kernel/errors.js';
import { normalizeQuestion } from '../analytics/support-analytics.js';
import { parseFaqFile } from '../knowledge/faq.js';

/**
 * Saves a reviewer's corrected answer into an FAQ file (the format of src/knowledge/faq.ts),
 * as a person would: the YAML is edited in place (comments, order and every other entry kept),
 * so the change is a small diff the team reviews in git like any other.
 */
export const REVIEWED_FAQ_HEADER = [
  " Answers corrected in Parley's review queue (`parley review correct`, or the dashboard).",
  ' A normal FAQ file: a question that closely matches a variant is answered from here without a model call.',
  ' Edit, review and commit it like any other knowledge file.',
].join('\n');

export interface FaqCorrection {
  /** The question as asked: becomes a variant of the entry. */
  question: string;
  answer: string;
  /** The variant an existing entry already answers this question with (update that entry). */
  existingVariant?: string;
  /** The page the answer comes from (path inside the knowledge folder), cited under it. */
  source?: string;
  /** One line above the entry: who corrected it, when, from which review item. */
  comment: string;
}

export interface SavedFaqEntry {
  /** The file written (absolute). */
  path: string;
  id: string;
  created: boolean;
}

// One process edits a file at a time (the dashboard and a reload may race); the write itself is atomic (rename).
let writing: Promise<unknown> = Promise.resolve();

export function saveFaqCorrection(path: string, displayPath: string, c: FaqCorrection): Promise<SavedFaqEntry> {
  const run = writing.then(() => save(path, displayPath, c));
  writing = run.catch(() => undefined);
  return run;
}

async function save(path: string, displayPath: string, c: FaqCorrection): Promise<SavedFaqEntry> {
  const question = c.question.trim();
  const answer = c.answer.trim();
  if (!answer) throw new ConfigError(displayPath, 'the corrected answer is empty');
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // The plain Document type: entries added here are not parsed nodes.
  const doc: Document = parseDocument(text);
  if (doc.errors.length) throw new ConfigError(displayPath, `cannot add the answer: the file is not valid YAML (${doc.errors[0]!.message.split('\n')[0]})`);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    doc.contents = doc.createNode([]);
    if (!text.trim()) doc.commentBefore = REVIEWED_FAQ_HEADER;
  }
  const list = doc.contents;
  if (!isSeq(list)) throw new ConfigError(displayPath, 'cannot add the answer: the file is not a list of FAQ entries');

  const wanted = new Set([normalizeQuestion(c.existingVariant ?? question), normalizeQuestion(question)]);
  const existing = list.items.find((item): item is YAMLMap => isMap(item) && variantsOf(item).some((q) => wanted.has(normalizeQuestion(q))));
  let id: string;
  if (existing) {
    id = String(existing.get('id') ?? `${displayPath}#${list.items.indexOf(existing) + 1}`);
    existing.set('answer', literal(doc.createNode(`${answer}\n`) as Scalar));
    const questions = existing.get('questions', true);
    if (isSeq(questions) && !variantsOf(existing).some((q) => normalizeQuestion(q) === normalizeQuestion(question))) questions.add(doc.createNode(question));
    // Comments above the entry stay (the file's own header may be attached to its first entry); an earlier correction note is replaced.
    const kept = (existing.commentBefore ?? '').split('\n').filter((l) => l !== '' && !/^ ?corrected by /.test(l));
    existing.commentBefore = [...kept, ` ${c.comment}`].join('\n');
  } else {
    const taken = new Set(list.items.flatMap((item) => (isMap(item) ? [String(item.get('id'))] : [])));
    id = uniqueId(question, taken);
    const entry = doc.createNode({ id, questions: [question], answer: `${answer}\n`, ...(c.source ? { source: c.source } : {}) }) as YAMLMap;
    literal(entry.get('answer', true) as Scalar);
    entry.commentBefore = ` ${c.comment}`;
    list.add(entry);
  }
  const out = doc.toString({ lineWidth: 0 });
  // Never write a file the knowledge base would refuse to load (it would stop the next start).
  parseFaqFile(displayPath, out);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomUUID().slice(0, 8)}.tmp`;
  await writeFile(tmp, out);
  await rename(tmp, path);
  return { path, id, created: !existing };
}

function variantsOf(entry: YAMLMap): string[] {
  const questions = entry.get('questions', true);
  return isSeq(questions) ? questions.items.flatMap((q) => (isScalar(q) && typeof q.value === 'string' ? [q.value] : [])) : [];
}

/** Answers as `|` blocks (with their final newline), as the hand-written FAQ files have them. */
function literal(s: Scalar): Scalar {
  s.type = Scalar.BLOCK_LITERAL;
  return s;
}

/** `review-how-do-i-export-invoices-to-pdf`, made unique within the file. */
function uniqueId(question: string, taken: Set<string>): string {
  const slug =
    normalizeQuestion(question)
      .split(' ')
      .filter(Boolean)
      .slice(0, 8)
      .join('-')
      .replace(/[^\p{L}\p{N}-]/gu, '') || 'answer';
  let id = `review-${slug}`;
  for (let n = 2; taken.has(id); n++) id = `review-${slug}-${n}`;
  return id;
}
