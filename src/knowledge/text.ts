import { createHash } from 'node:crypto';

/**
 * Text helpers shared by the full-text index and the FAQ matcher, so a question and the
 * documents are cut into terms the same way.
 */

/**
 * Words that carry no meaning for matching. Negations and on/off are deliberately kept:
 * "turn off 2FA" must not match the FAQ entry for "turn on 2FA".
 */
const STOPWORDS = new Set(
  (
    'a an the and or but if then than so to of in at by for with from into onto about as is are was were be been being am ' +
    'do does did doing done have has had i me my mine we us our you your yours he she it its they them their this that these those ' +
    'what which who whom whose how when where why there here can could would should will shall may might must ' +
    'please thanks thank hi hello hey just also any some all get got s t ones'
  ).split(/\s+/),
);

/** Lower case, accents removed, punctuation turned into spaces. */
export function normalize(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** A light suffix stripper (plurals, -ing, -ed): enough for "refunds"/"refund", "invoicing"/"invoice". */
export function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 4 && w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  if (w.length > 4 && w.endsWith('e')) w = w.slice(0, -1);
  return w;
}

/** One term for the index, or null for a stopword. */
export function term(word: string): string | null {
  const w = normalize(word);
  if (!w || STOPWORDS.has(w)) return null;
  return stem(w);
}

/** The meaningful terms of `text`, in order (duplicates kept). */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const w of normalize(text).split(' ')) {
    if (!w || STOPWORDS.has(w)) continue;
    out.push(stem(w));
  }
  return out;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
