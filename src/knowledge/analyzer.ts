import { createHash } from 'node:crypto';
import { stemmer } from 'stemmer';

/**
 * The one analyzer of Parley's text: the knowledge index, the question, FAQ matching and the
 * quality metrics all cut text into words here, so a question and a document always agree on
 * what a term is. Like an Elasticsearch analyzer it is a chain: normalise (case, accents,
 * width), segment (spaces for spaced scripts, `Intl.Segmenter` dictionaries for Chinese,
 * Japanese, Thai…), drop stop words, stem (Porter, from the maintained `stemmer` package).
 */

/**
 * Words that carry no meaning for matching, including how people type in chat ("u", "ur",
 * "pls") and the filler of chatty preambles. Negations and on/off are deliberately kept:
 * "turn off 2FA" must not match the FAQ entry for "turn on 2FA".
 */
const STOPWORDS = new Set(
  (
    'a an the and or but if then than so to of in at by for with from into onto about as is are was were be been being am ' +
    'do does did doing done have has had i me my mine we us our you your yours he she it its they them their this that these those ' +
    'what which who whom whose how when where why there here can could would should will shall may might must ' +
    'please thanks thank hi hello hey just also any some all get got s t ones ' +
    // chat spellings and filler
    'u ur r ya yall im ive id ill youre whats pls plz thx ty tia lol btw hmm um ok okay guys anyone somebody someone ' +
    'know wondering wonder question quick need want like way possible really actually still even something anything thing things ' +
    // the same role in Chinese and Japanese (particles, pronouns, question words)
    '的 了 吗 呢 吧 啊 是 我 我们 你 你们 他 她 它 在 和 与 或 怎么 怎样 如何 什么 为什么 哪里 可以 能 能否 请问 请 一下 这个 那个 有 没有 要 ' +
    'の は が を に で と も か です ます'
  ).split(/\s+/),
);

/** Scripts written without spaces between words: cut by `Intl.Segmenter`'s dictionaries, not by spaces. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
/** Chinese and Japanese characters (one character is the unit sacrebleu's `zh` tokenizer scores BLEU on). */
const HAN_KANA = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
/** A run of letters, marks and digits: a word in a spaced script, a sentence in an unspaced one. */
const RUN = /[\p{L}\p{M}\p{N}]+/gu;

let segmenter: Intl.Segmenter | undefined;

/** Lower case, compatibility forms folded (full-width letters), Latin accents removed (not Thai or Devanagari vowel marks), apostrophes dropped ("don't" → "dont"). */
export function normalize(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]+/g, '')
    .normalize('NFKC')
    .toLowerCase()
    .replace(/['’]/g, '');
}

export interface WordOptions {
  /** How Chinese and Japanese are cut: dictionary words (retrieval) or single characters (BLEU/ROUGE, as sacrebleu's `zh`). */
  cjk?: 'words' | 'chars';
}

/** The words of `text`, normalised, in order, stop words included. */
export function words(text: string, o: WordOptions = {}): string[] {
  const out: string[] = [];
  for (const [run] of normalize(text).matchAll(RUN)) {
    if (!UNSPACED.test(run)) {
      out.push(run);
      continue;
    }
    segmenter ??= new Intl.Segmenter('zh', { granularity: 'word' });
    for (const s of segmenter.segment(run)) {
      if (!s.isWordLike) continue;
      if (!HAN_KANA.test(s.segment)) out.push(s.segment);
      else if (o.cjk === 'chars') out.push(...splitHanKana(s.segment));
      // Single characters are covered by the bigrams below; dictionary words add precision.
      else if (s.segment.length > 1) out.push(s.segment);
    }
    if (o.cjk !== 'chars') out.push(...bigrams(run));
  }
  return out;
}

/**
 * Overlapping pairs of Chinese/Japanese characters (a lone character as itself), as
 * Elasticsearch's `cjk` analyzer indexes them: ICU's dictionary cuts the same phrase differently
 * in a short question and in a long sentence ("重置链接" is four characters in both here), and
 * bigrams match either way.
 */
function bigrams(run: string): string[] {
  const out: string[] = [];
  for (const [piece] of run.matchAll(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/gu)) {
    if (piece.length === 1) out.push(piece);
    for (let i = 0; i + 1 < piece.length; i++) out.push(piece.slice(i, i + 2));
  }
  return out;
}

/** Characters of Han and kana, while a Latin or digit run inside the segment stays one token. */
function splitHanKana(segment: string): string[] {
  return segment.match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/gu) ?? [];
}

export function isStopword(word: string): boolean {
  return STOPWORDS.has(word);
}

/** A word's index term: null for a stop word; Latin-script words stemmed, others as they are. */
export function term(word: string): string | null {
  const w = normalize(word);
  if (!w || STOPWORDS.has(w)) return null;
  return /^[a-z]+$/.test(w) && w.length > 2 ? stemmer(w) : w;
}

/** The meaningful terms of `text`, in order (duplicates kept). */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    const t = term(w);
    if (t) out.push(t);
  }
  return out;
}

/**
 * How customers say what support docs call otherwise (Elasticsearch's synonym filter, applied
 * to questions only): chat shorthand and everyday words mapped to the usual help-centre terms.
 * Kept general; a team adds its own product's words in its docs or FAQ variants.
 */
const SYNONYMS: [RegExp, string][] = [
  [/\b(?:pw|pwd|passwd|pasword|passw)\b/g, 'password'],
  [/\blog(?:ged)? ?in\b|\blogin\b/g, 'sign in'],
  [/\blog(?:ged)? (?:me |you |us |them )?out\b|\blogout\b/g, 'sign out'],
  [/\bmoney back\b|\breimburse\w*/g, 'refund'],
  [/\b(?:co ?workers?|colleagues?|teammates?|staff|employees?)\b/g, 'team members'],
  [/\bamex\b/g, 'american express'],
  [/\b(?:iphone|ipad)\b/g, 'ios'],
  [/\bapi keys?\b/g, 'api token'],
  [/\bhow much\b/g, 'price cost'],
  [/\b(?:charity|charities|non ?profits?|ngo)\b/g, 'nonprofit'],
  [/\b(?:no (?:wifi|internet|connection|signal)|without (?:wifi|internet))\b/g, 'offline'],
  [/\b(?:afk|away from (?:my )?(?:desk|computer)|(?:im|i was|was) away|(?:went|go|going) (?:to|for) (?:lunch|a break)|on (?:a )?break)\b/g, 'idle'],
  [/\bbill(?:ing|ed)? (?:a |my |our |the |each )?(?:clients?|customers?)\b/g, 'invoice client'],
  [/\b(?:add|log|enter|record) (?:\w+ )?hours\b/g, 'add time entry manually'],
  [/\b(?:doesnt|does not|dont|isnt|is not|not) (?:show(?:ing)?|appear(?:ing)?)(?: up)?\b/g, 'not syncing'],
  [/\b(?:nag|chase|remind)\b/g, 'reminders'],
  [/\bunsubscribe\b/g, 'cancel subscription'],
  [/退钱/g, '退款'],
  [/多少钱/g, '价格'],
  [/没网|断网/g, '离线'],
];

/** The question in the docs' words: normalised, with the synonyms above substituted. */
export function expandQuestion(text: string): string {
  let t = normalize(text);
  for (const [from, to] of SYNONYMS) t = t.replace(from, to);
  return t;
}

const QUESTION_START =
  /^(?:(?:how|what|whats|can|could|do|does|did|is|are|why|where|when|which|who|will|should|would|any|also|and)\b|怎么|如何|为什么|能|可以|是否|有没有)/i;

/**
 * The questions of a message that asks several ("how do i cancel? and do i get a refund"): its
 * sentences that end with a question mark or open like a question. One part (the whole message)
 * when it asks only one: a chatty preamble stays with its question, since it often carries the subject.
 */
export function questionParts(text: string): string[] {
  const sentences = text
    .split(/(?<=[?？!！。.])\s*|\n+/)
    .map((s) => s.trim())
    .filter((s) => terms(s).length > 0);
  const asks = sentences.filter((s) => /[?？]$/.test(s) || QUESTION_START.test(s));
  return asks.length >= 2 ? asks : [text];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Tokens for text metrics (ROUGE, BLEU, groundedness): words as `words()` finds them, CJK one token
 * per character (as sacrebleu's `zh` tokenizer scores BLEU).
 */
export function metricTokens(text: string): string[] {
  return words(text, { cjk: 'chars' });
}
