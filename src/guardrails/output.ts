/**
 * Output safety, applied by the renderer to every version of a reply (partial and final):
 * model text can never ping a crowd, and configured blocked terms never show.
 *
 * Platforms add their own layer (Slack surfaces escape control sequences, Discord sends
 * `allowed_mentions: { parse: [] }`); this one is platform-neutral and runs first, so a
 * platform that forgets its layer, a bridge that re-posts the text, or a console log piped to
 * chat still carries no working mass mention.
 */

/** Inserted after `@`: the form Discord itself documents for showing `@everyone` without a ping. */
const ZWSP = '\u200b';
const CROWD_WORDS = ['everyone', 'here', 'channel'] as const;

// Letters from other scripts that render like the Latin letters of the crowd words.
const CONFUSABLES: Record<string, string> = {
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  у: 'y',
  х: 'x',
  і: 'i',
  һ: 'h',
  ո: 'n',
  ѵ: 'v',
  ԁ: 'd',
  ɡ: 'g',
  ӏ: 'l',
  ı: 'i',
  А: 'a',
  Е: 'e',
  О: 'o',
  Р: 'p',
  С: 'c',
  У: 'y',
  Х: 'x',
  Н: 'h',
  Т: 't',
  В: 'b',
  М: 'm',
  К: 'k',
  Ү: 'y',
  ε: 'e',
  ο: 'o',
  ν: 'v',
  ρ: 'p',
  υ: 'y',
  η: 'n',
  α: 'a',
  ι: 'i',
  τ: 't',
  κ: 'k',
  Ε: 'e',
  Ο: 'o',
  Η: 'h',
  Ν: 'n',
  Α: 'a',
  Ρ: 'p',
  Υ: 'y',
  Τ: 't',
  Χ: 'x',
  Κ: 'k',
  Ι: 'i',
};
// HTML entities for `@` that some renderers decode.
const AT_ENTITY = /^(?:&#0*64;|&#x0*40;|&commat;)/i;

/**
 * Neutralises mass mentions in plain, escaped and look-alike forms:
 * - Slack control sequences `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>` (also HTML-escaped);
 * - Discord role mentions `<@&id>`;
 * - `@everyone`, `@here`, `@channel` in any case, with full-width or mathematical letters
 *   (anything NFKC folds to them), Cyrillic/Greek look-alike letters, or `@` written as an entity.
 * Each becomes `@\u200bword`, which reads the same and pings no one. Idempotent.
 */
export function neutralizeMassMentions(text: string): string {
  let out = text
    // The closing `>` is optional: a streaming reply shows `<!here|he` before the sequence is complete.
    .replace(/(?:<|&lt;)!(channel|here|everyone)(?:\|[^>&\n]*)?(?:>|&gt;)?/gi, (_, w: string) => `@${ZWSP}${w.toLowerCase()}`)
    .replace(/(?:<|&lt;)!subteam\^[A-Za-z0-9]*(?:\|@?([^>&\n]*))?(?:>|&gt;)?/gi, (_, name?: string) => `@${ZWSP}${name || 'group'}`)
    .replace(/<@&\d+>/g, `@${ZWSP}role`);
  out = neutralizeLookAlikes(out);
  return out;
}

/** Folds each character to what it looks like, keeping a map back to the original positions. */
function skeleton(text: string): { folded: string; origin: number[] } {
  let folded = '';
  const origin: number[] = [];
  for (let i = 0; i < text.length; ) {
    const entity = AT_ENTITY.exec(text.slice(i, i + 10));
    if (entity) {
      folded += '@';
      origin.push(i);
      i += entity[0].length;
      continue;
    }
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    const mapped = (CONFUSABLES[ch] ?? ch.normalize('NFKC')).toLowerCase();
    for (const c of mapped) {
      folded += c;
      origin.push(i);
    }
    i += ch.length;
  }
  origin.push(text.length);
  return { folded, origin };
}

function neutralizeLookAlikes(text: string): string {
  if (!/[@&\uFE6B\uFF20]/.test(text)) return text; // no @ in any form: nothing to do
  const { folded, origin } = skeleton(text);
  const spans: { start: number; end: number; word: string }[] = [];
  const re = new RegExp(`@(${CROWD_WORDS.join('|')})`, 'g');
  for (let m = re.exec(folded); m; m = re.exec(folded)) {
    const start = origin[m.index]!;
    // The end is the start of the first original character after the match.
    let j = m.index + m[0].length;
    while (j < origin.length - 1 && origin[j] === origin[j - 1]) j++;
    spans.push({ start, end: origin[j]!, word: m[1]! });
  }
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + `@${ZWSP}${s.word}`;
    at = s.end;
  }
  return out + text.slice(at);
}

const NO_SPACE_SCRIPTS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replaces blocked terms (whole words or phrases, ignoring case; inside words for scripts
 * written without spaces). While a reply streams, a word at the very end that is the start of
 * a blocked term is held back until the next words show what it is, so partial text never
 * shows the beginning of a blocked term either.
 */
export function blockedTermsFilter(terms: readonly string[], replacement: string): (text: string) => string {
  const cleaned = [...new Set(terms.map((t) => t.trim()).filter(Boolean))].sort((a, b) => b.length - a.length);
  if (!cleaned.length) return (t) => t;
  const sources = cleaned.map((t) => (NO_SPACE_SCRIPTS.test(t) ? escapeRegex(t) : `(?<![\\p{L}\\p{N}_])${escapeRegex(t)}(?![\\p{L}\\p{N}_])`));
  const re = new RegExp(sources.join('|'), 'giu');
  const lowered = cleaned.map((t) => t.toLowerCase());
  return (text) => {
    const out = text.replace(re, replacement);
    // Hold back a trailing fragment that could still grow into a blocked term.
    const tail = /(?:^|[^\p{L}\p{N}_])([\p{L}\p{N}_][^\n]{0,80})$/u.exec(out);
    if (!tail) return out;
    const fragment = tail[1]!.toLowerCase();
    for (let k = 0; k < fragment.length; k++) {
      if (k > 0 && /[\p{L}\p{N}_]/u.test(fragment[k - 1]!)) continue; // start at a word start
      const piece = fragment.slice(k);
      if (piece.length >= 2 && lowered.some((t) => t.length > piece.length && t.startsWith(piece))) {
        return out.slice(0, out.length - piece.length);
      }
    }
    return out;
  };
}

/** The renderer's transform: blocked terms first (so a term hidden in a mention is caught), then mentions. */
export function createOutputTransform(o: { blockedTerms: readonly string[]; blockedReplacement: string }): (text: string) => string {
  const block = blockedTermsFilter(o.blockedTerms, o.blockedReplacement);
  return (text) => neutralizeMassMentions(block(text));
}
