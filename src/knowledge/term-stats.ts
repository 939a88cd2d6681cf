import { terms } from './analyzer.js';

/**
 * What the knowledge index knows about its terms, beside MiniSearch's own index: in how many
 * passages each occurs (IDF weights, spelling correction, which terms are common) and which
 * terms each passage holds (to score the common terms a search left out). Built once per load.
 */
export class TermStats {
  /** In how many passages each term occurs. */
  private readonly df = new Map<string, number>();
  /** Each passage's distinct terms as sorted ids of `vocabulary`: a few bytes a term, where Sets of strings would double the index's memory. */
  private readonly termIds = new Map<string, Int32Array>();
  private readonly vocabulary = new Map<string, number>();
  /** Spelling corrections of question terms no passage contains (questions repeat their typos). */
  private readonly corrections = new Map<string, string>();
  readonly passages: number;

  constructor(docs: readonly { id: string; text: string }[]) {
    this.passages = docs.length;
    for (const d of docs) {
      const ids: number[] = [];
      for (const t of new Set(terms(d.text))) {
        this.df.set(t, (this.df.get(t) ?? 0) + 1);
        let id = this.vocabulary.get(t);
        if (id === undefined) this.vocabulary.set(t, (id = this.vocabulary.size));
        ids.push(id);
      }
      this.termIds.set(d.id, Int32Array.from(ids).sort());
    }
  }

  /** Whether some passage contains `t`. */
  has(t: string): boolean {
    return this.df.has(t);
  }

  /**
   * BM25's IDF. A word no passage contains weighs as a rare word (it is often what the question
   * is really about: "life" in "the meaning of life"), except a Chinese/Japanese character pair no
   * passage contains, which is mostly a pair across a word boundary, not a word.
   */
  idf(t: string): number {
    const df = this.df.get(t) ?? (/^[a-z0-9]+$/.test(t) ? UNSEEN_DF : -1);
    return df < 0 ? 0 : Math.log(1 + (this.passages - df + 0.5) / (df + 0.5));
  }

  /** Whether the passage with this key contains `t` (a binary search of its term ids). */
  contains(key: string, t: string): boolean {
    const id = this.vocabulary.get(t);
    const ids = this.termIds.get(key);
    if (id === undefined || !ids) return false;
    let lo = 0;
    let hi = ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid] === id) return true;
      if (ids[mid]! < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /**
   * A term no passage contains, replaced by the most common indexed term one typo away
   * (Damerau: "refnud" → "refund", a swap Levenshtein-1 fuzzy matching misses); unchanged when
   * none is, or when the word is short ("paris" is one letter from "pays").
   */
  correct(t: string): string {
    if (this.df.has(t) || t.length < FUZZY_MIN_LENGTH || !/^[a-z]+$/.test(t)) return t;
    let fixed = this.corrections.get(t);
    if (fixed === undefined) {
      let best = 0;
      fixed = t;
      for (const [v, n] of this.df) if (n > best && oneTypo(t, v)) [best, fixed] = [n, v];
      if (this.corrections.size > MAX_CORRECTIONS) this.corrections.clear();
      this.corrections.set(t, fixed);
    }
    return fixed;
  }

  /**
   * The question's terms so common in the docs that scoring them walks a large share of the index
   * (in more than `COMMON_SHARE` of the passages, and more than `COMMON_MIN_PASSAGES`): as in
   * Elasticsearch's common-terms query, they are left out of the search when the question has
   * rarer terms, and then score only the passages those found (`KnowledgeBase.search`). A
   * question of common terms only is matched on titles and paths (a page about refunds says so
   * in its title), a tenth the size of the text. A cost cut: small doc sets have no common terms.
   */
  queryPlan(qTerms: ReadonlySet<string>): QueryPlan {
    const limit = Math.max(COMMON_SHARE * this.passages, COMMON_MIN_PASSAGES);
    const common = new Set([...qTerms].filter((t) => (this.df.get(t) ?? 0) > limit));
    return { skip: common.size < qTerms.size ? common : new Set(), titlesOnly: common.size > 0 && common.size === qTerms.size };
  }
}

export interface QueryPlan {
  /** Common terms left out (the question has rarer ones). */
  skip: ReadonlySet<string>;
  /** Every term is common: search titles and paths only. */
  titlesOnly: boolean;
}

/** Whether `a` and `b` are at most one edit apart, a swap of neighbours counting as one (Damerau). */
export function oneTypo(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1 || a.length < FUZZY_MIN_LENGTH - 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const rest = (x: number, y: number) => a.slice(i + x) === b.slice(i + y);
  return rest(1, 1) || rest(1, 0) || rest(0, 1) || (a[i] === b[i + 1] && a[i + 1] === b[i] && rest(2, 2));
}

/** The document frequency an unseen word is weighed as (a word of two passages). */
const UNSEEN_DF = 2;

/** A share of the passages above which a term is common: scoring it would walk too many of them for what it adds. */
const COMMON_SHARE = 0.05;

/** Passages a term may occur in before it can count as common: walking a few hundred costs nothing, and small doc sets keep every term. */
const COMMON_MIN_PASSAGES = 250;

/** Corrections remembered per index before the memo starts over (bounded memory under arbitrary questions). */
const MAX_CORRECTIONS = 10_000;

/** Typo tolerance: one edit from 5 letters, two from 8 ("weather" must not meet "either"). */
export const FUZZY_MIN_LENGTH = 5;
