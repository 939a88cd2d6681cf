import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import MiniSearch, { type SearchResult } from 'minisearch';
import type { Citation } from '../kernel/adapter.js';
import { describe } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import { DEFAULT_CHUNK_OPTIONS, type Chunk, type ChunkOptions } from './chunk.js';
import { loadSource, memorySiteCache, type SiteCache } from './sources/index.js';
import { cosine, type CachedEmbedder } from './embeddings.js';
import { bestFaqMatch, parseFaqFile, type FaqEntry, type FaqMatch } from './faq.js';
import { expandQuestion, questionParts, sha256, term, terms, words } from './analyzer.js';
import { FUZZY_MIN_LENGTH, oneTypo, TermStats, type QueryPlan } from './term-stats.js';

/** One folder of knowledge: Markdown and text pages, plus FAQ files (`*.yaml`). */
export interface KnowledgeSource {
  name: string;
  /** Absolute folder path. */
  dir: string;
  /** Shown in citations instead of the absolute path (e.g. `examples/knowledge`). */
  displayPath: string;
  /** When set, citations link to `url/<path>#<anchor>` instead of the file path. */
  url?: string;
  /** The setting that named this folder, for errors (`KNOWLEDGE_DIR`, `knowledge.sources.docs.path`). */
  configKey?: string;
  /** A docs site read from its sitemap instead of a folder (`dir` is then empty). */
  sitemap?: string;
  /** Minutes between conditional re-checks of a sitemap source. */
  refreshMinutes?: number;
}

export interface Passage extends Chunk {
  /** `source:path#anchor`, unique across sources. */
  key: string;
  source: string;
  location: string;
  hash: string;
  vector?: number[];
  /** What a degraded answer quotes when not the whole text (an FAQ entry's answer). */
  quote?: string;
  /** Title shown in citations when it differs from `title` (an FAQ entry cites its page). */
  citeTitle?: string;
}

export interface Hit {
  passage: Passage;
  /** Fused rank score (higher is better); only for ordering. */
  score: number;
  /** Share of the question's meaning found in the passage (0–1): its matched terms' IDF over all its terms' IDF. */
  coverage: number;
  /** The passage's BM25 score for the question (or its part), for score margins; 0 when only embeddings found it. */
  lexical: number;
  /** Cosine similarity with the question, when embeddings are on. */
  similarity?: number;
  /** The question's terms this passage matches (as written, as a prefix or with one typo). */
  matched?: readonly string[];
  /** The weight (IDF) of each term of the question (or its part), shared by the hits of one search: coverage of several passages together. */
  weights?: ReadonlyMap<string, number>;
}

export interface SearchOptions {
  /** Source names to search; all when absent. */
  sources?: readonly string[];
  /** How many hits to return. */
  k?: number;
  /** Recent thread context: follow-ups like "and for annual plans?" need it. */
  context?: string;
}

export interface KnowledgeOptions {
  log: Logger;
  chunk?: ChunkOptions;
  /** Hybrid ranking when set: BM25 fused with embedding similarity. */
  embedder?: CachedEmbedder;
  /** Where docs-site pages are cached (a store namespace); a process-long Map when absent. */
  siteCache?: SiteCache;
}

/** Reciprocal-rank fusion constant (the usual 60): ranks matter, raw scores of different kinds do not. */
export const RRF_K = 60;

/**
 * The searchable knowledge of every configured source: passages in a MiniSearch (BM25+) index,
 * optional embeddings, and FAQ entries. Rebuilt from scratch on file change (a few dozen pages
 * index in milliseconds; embeddings of unchanged text come from the cache). `version` changes
 * exactly when the content does, so answer caches keyed on it are invalidated by edits.
 */
export class KnowledgeBase extends EventEmitter {
  private index = newIndex();
  private passages = new Map<string, Passage>();
  /** Page titles by `source:path` (what FAQ answers are cited under). */
  private pageTitles = new Map<string, string>();
  /** Each page's passages in page order, by `source:path` (FAQ entries are not pages): the neighbours a passage is sent with. */
  private pages = new Map<string, Passage[]>();
  private faq: FaqEntry[] = [];
  /** Term statistics: IDF weights, spelling correction, common terms (src/knowledge/term-stats.ts). */
  private termStats = new TermStats([]);
  private watchers: FSWatcher[] = [];
  private reloadTimer?: NodeJS.Timeout;
  private loading?: Promise<void>;
  private timers: NodeJS.Timeout[] = [];
  private recheckDue = false;
  private readonly siteCache: SiteCache;
  version = '';
  stats = { files: 0, passages: 0, faqEntries: 0, indexMs: 0 };

  constructor(
    readonly sources: readonly KnowledgeSource[],
    private readonly o: KnowledgeOptions,
  ) {
    super();
    this.siteCache = o.siteCache ?? memorySiteCache();
  }

  /** Reads every source and swaps in the new index. A broken FAQ file throws a ConfigError naming it. */
  async load(): Promise<void> {
    const started = performance.now();
    const passages = new Map<string, Passage>();
    const faq: FaqEntry[] = [];
    let files = 0;
    const recheck = this.recheckDue;
    this.recheckDue = false;
    for (const source of this.sources) {
      for (const doc of await loadSource(source, { log: this.o.log, chunk: this.o.chunk ?? DEFAULT_CHUNK_OPTIONS, siteCache: this.siteCache, recheck })) {
        const path = doc.path;
        files++;
        if (doc.faq !== undefined) {
          for (const entry of parseFaqFile(`${source.displayPath}/${path}`, doc.faq)) {
            faq.push({ ...entry, file: path, sourceName: source.name });
            // FAQ entries are passages too, so retrieval and degraded answers can use them.
            const chunk: Chunk = {
              id: `${path}#${entry.id}`,
              path: entry.source ?? path,
              title: entry.questions[0]!,
              anchor: '',
              text: `${entry.questions.join('\n')}\n\n${entry.answer}`,
            };
            passages.set(`${source.name}:${chunk.id}`, { ...this.passage(source, chunk), quote: entry.answer });
          }
        } else {
          for (const c of doc.chunks) passages.set(`${source.name}:${c.id}`, this.passage(source, c));
        }
      }
    }
    // An FAQ entry is cited under its page's title: each page's title, by source and path, found once.
    const pageTitles = new Map<string, string>();
    const pages = new Map<string, Passage[]>();
    for (const p of passages.values()) {
      const at = `${p.source}:${p.path}`;
      if (p.quote !== undefined) continue;
      if (!pageTitles.has(at)) pageTitles.set(at, p.title.split(' › ')[0]!);
      let page = pages.get(at);
      if (!page) pages.set(at, (page = []));
      page.push(p);
    }
    for (const p of passages.values()) if (p.quote !== undefined) p.citeTitle = pageTitles.get(`${p.source}:${p.path}`);
    if (this.o.embedder) {
      const list = [...passages.values()];
      const vectors = await this.o.embedder.embed(list.map(embeddingText));
      list.forEach((p, i) => (p.vector = vectors[i]));
    }
    const index = newIndex();
    const docs = [...passages.values()].map((p) => ({ id: p.key, title: p.title, path: p.path.replace(/[/._-]+/g, ' '), text: p.text, source: p.source }));
    index.addAll(docs);
    const termStats = new TermStats(docs.map((d) => ({ id: d.id, text: `${d.title} ${d.path} ${d.text}` })));
    const version = sha256(
      [...passages.values()]
        .map((p) => `${p.key}:${p.hash}`)
        .sort()
        .join('\n') + faq.map((f) => f.answer + f.questions.join('|')).join('\n'),
    ).slice(0, 16);
    const changed = version !== this.version;
    this.index = index;
    this.passages = passages;
    this.pageTitles = pageTitles;
    this.pages = pages;
    this.faq = faq;
    this.termStats = termStats;
    this.stats = { files, passages: passages.size, faqEntries: faq.length, indexMs: Math.round(performance.now() - started) };
    const previous = this.version;
    this.version = version;
    this.o.log.info({ ...this.stats, version, sources: this.sources.map((s) => s.name) }, 'knowledge indexed');
    if (changed && previous) this.emit('change', version);
  }

  /** Re-indexes now; concurrent calls share one run. */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** Re-indexes when a file in any source changes (debounced); a failed reload keeps the old index. */
  watch(debounceMs = 200): void {
    for (const source of this.sources) {
      if (source.sitemap) {
        // A docs site is re-checked on its schedule (conditional requests), not watched.
        const timer = setInterval(
          () => {
            this.recheckSites().catch((err) =>
              this.o.log.warn({ err: describe(err), source: source.name }, 'knowledge re-check failed; keeping the previous index'),
            );
          },
          (source.refreshMinutes ?? 360) * 60_000,
        );
        timer.unref();
        this.timers.push(timer);
        continue;
      }
      try {
        const w = watch(source.dir, { recursive: true }, () => {
          clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => {
            this.refresh().catch((err) =>
              this.o.log.warn({ err: describe(err), source: source.name }, 'knowledge re-index failed; keeping the previous index'),
            );
          }, debounceMs);
        });
        w.on('error', (err) => this.o.log.warn({ err: describe(err) }, 'knowledge watcher failed'));
        w.unref();
        this.watchers.push(w);
      } catch (err) {
        this.o.log.warn({ err: describe(err), source: source.name }, 'cannot watch knowledge folder; changes need a restart');
      }
    }
  }

  /** Re-checks every docs-site page now (ETag/Last-Modified), re-indexing if any changed. */
  recheckSites(): Promise<void> {
    this.recheckDue = true;
    return this.refresh();
  }

  close(): void {
    clearTimeout(this.reloadTimer);
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /**
   * Best passages for `question` (plus thread context), best first. A message asking several
   * questions is searched per question and the results interleaved, so each question's best
   * passage is among the first; typos and word forms are met by the analyzer and fuzzy/prefix
   * matching. Whether the hits are relevant is decided by the caller (see `selectPassages`).
   */
  async search(question: string, options: SearchOptions = {}): Promise<Hit[]> {
    const k = options.k ?? 5;
    const allowed = options.sources ? new Set(options.sources) : undefined;
    const filter = allowed ? (r: SearchResult) => allowed.has(r.source as string) : undefined;
    const context = options.context?.trim();
    const parts = questionParts(question).map(expandQuestion);
    const lists: Hit[][] = parts.map((part) => {
      const qTerms = new Set(terms(part).map((t) => this.termStats.correct(t)));
      const weights = new Map([...qTerms].map((t) => [t, this.termStats.idf(t)]));
      // In a thread the recent context joins the query (a follow-up often leaves out its subject),
      // with the question's own terms weighted up so a new topic still wins over the old one.
      const plan = this.termStats.queryPlan(qTerms);
      const results = context ? this.lexical(`${part} ${context}`, plan, filter, (t) => (qTerms.has(t) ? 1.5 : 1)) : this.lexical(part, plan, filter);
      const hits = results.flatMap((r) => {
        const passage = this.passages.get(r.id as string);
        if (!passage) return [];
        // Coverage of what is asked now: the thread's context ranks, it does not make an unrelated new question answerable.
        let matched = exactly(r);
        let score = r.score;
        // The common terms left out of the search still score the passages the rarer ones found
        // (as Elasticsearch's common-terms query): one occurrence's BM25+ each, and MiniSearch's
        // multiplier of the number of query terms matched.
        const extra = [...plan.skip].filter((t) => this.termStats.contains(passage.key, t));
        if (extra.length) {
          const found = Math.max(1, r.queryTerms.length);
          score = (score / found + extra.reduce((sum, t) => sum + COMMON_TERM_SCORE * this.termStats.idf(t), 0)) * (found + extra.length);
          matched = [...matched, ...extra];
        }
        return [{ passage, score, lexical: score, coverage: coverageOf([matched], weights), matched, weights }];
      });
      return plan.skip.size ? hits.sort((a, b) => b.score - a.score).slice(0, LEXICAL_HITS) : hits;
    });
    const merged = interleave(lists);

    if (this.o.embedder) {
      try {
        const qv = await this.o.embedder.embedQuery(context ? `${context}\n${question}` : question);
        const ranked = [...this.passages.values()]
          .filter((p) => p.vector && (!allowed || allowed.has(p.source)))
          .map((p) => ({ p, s: cosine(qv!, p.vector!) }))
          .sort((a, b) => b.s - a.s)
          .slice(0, 20);
        // Reciprocal-rank fusion: ranks matter, raw scores of different kinds do not.
        const fused = new Map<string, Hit>();
        merged.forEach((h, i) => fused.set(h.passage.key, { ...h, score: 1 / (RRF_K + i) }));
        ranked.forEach(({ p, s }, i) => {
          const hit = fused.get(p.key) ?? { passage: p, score: 0, lexical: 0, coverage: 0 };
          fused.set(p.key, { ...hit, score: hit.score + 1 / (RRF_K + i), similarity: s });
        });
        return [...fused.values()].sort((a, b) => b.score - a.score).slice(0, k);
      } catch (err) {
        // Embeddings are an improvement, not a dependency: BM25 alone still answers.
        this.o.log.warn({ err: describe(err) }, 'embedding the question failed; ranking by full text only');
      }
    }
    return merged.slice(0, k);
  }

  /** The closest FAQ entry in `sources` (all when absent). */
  faqMatch(question: string, sources?: readonly string[]): FaqMatch | undefined {
    const entries = sources ? this.faq.filter((f) => sources.includes(f.sourceName ?? '')) : this.faq;
    return bestFaqMatch(entries, question);
  }

  /** The citation for an FAQ entry: its source page when it names one, else the FAQ file. */
  faqCitation(entry: FaqEntry): Citation {
    const source = this.sources.find((s) => s.name === entry.sourceName) ?? this.sources[0]!;
    const path = entry.source ?? entry.file;
    if (/^https?:\/\//.test(path)) return { id: entry.id, title: entry.questions[0]!, location: path };
    return { id: `${source.name}:${path}`, title: this.pageTitles.get(`${source.name}:${path}`) ?? entry.questions[0]!, location: locate(source, path, '') };
  }

  /** The passage with this key, if the current index has it. */
  passageByKey(key: string): Passage | undefined {
    return this.passages.get(key);
  }

  /** The passages of `p`'s page in page order (`p` alone for an FAQ entry). */
  pageOf(p: Passage): readonly Passage[] {
    return p.quote === undefined ? (this.pages.get(`${p.source}:${p.path}`) ?? [p]) : [p];
  }

  /** Keys of every indexed passage (`source:path#anchor`). */
  passageKeys(): IterableIterator<string> {
    return this.passages.keys();
  }

  get size(): number {
    return this.passages.size;
  }

  private lexical(query: string, plan: QueryPlan, filter?: (r: SearchResult) => boolean, boostTerm?: (term: string) => number): SearchResult[] {
    const search = (fields?: string[]) =>
      this.index.search(query, {
        fields,
        filter,
        boostTerm,
        processTerm: (w) => {
          const t = term(w);
          const fixed = t ? this.termStats.correct(t) : null;
          return fixed && !plan.skip.has(fixed) ? fixed : null;
        },
        // Typo tolerance only for terms the docs do not contain: a known word is already right, and
        // expanding it to its fuzzy neighbours is most of a query's cost on a large index.
        fuzzy: (t) => (this.termStats.has(t) ? false : t.length >= 8 ? 2 : t.length >= FUZZY_MIN_LENGTH ? 1 : false),
      });
    const titled = plan.titlesOnly ? search(['title', 'path']) : [];
    // More candidates when common terms were left out: they re-rank these (see `search`).
    return (titled.length ? titled : search()).slice(0, plan.skip.size ? 2 * LEXICAL_HITS : LEXICAL_HITS);
  }

  private passage(source: KnowledgeSource, c: Chunk): Passage {
    return { ...c, key: `${source.name}:${c.id}`, source: source.name, location: locate(source, c.path, c.anchor), hash: sha256(`${c.title}\n${c.text}`) };
  }
}

/** The IDF-weighted share of the question's terms found in any of `matched`: rare words ("webhook") count more than common ones ("account"). */
export function coverageOf(matched: readonly (readonly string[])[], weights: ReadonlyMap<string, number>): number {
  const hit = new Set(matched.flat());
  let got = 0;
  let total = 0;
  for (const [t, w] of weights) {
    total += w;
    if (hit.has(t)) got += w;
  }
  return total ? got / total : 0;
}

export function citationOf(p: Passage): Citation {
  return { id: p.key, title: p.citeTitle ?? p.title, location: p.location };
}

function locate(source: KnowledgeSource, path: string, anchor: string): string {
  if (/^https?:\/\//.test(path)) return anchor ? `${path}#${anchor}` : path;
  if (source.url) return `${source.url.replace(/\/+$/, '')}/${path}${anchor ? `#${anchor}` : ''}`;
  return `${source.displayPath}/${path}${anchor ? `#${anchor}` : ''}`;
}

function embeddingText(p: Passage): string {
  return `${p.title}\n${p.text}`;
}

/**
 * The query terms a result matched as written, as a prefix, or with one typo (one letter wrong,
 * missing, extra, or two swapped: "conect", "quikbooks", "refnud"). A term met only through a
 * larger fuzzy correction still ranks the passage but counts as not found for coverage: "weather"
 * two edits from "either" must not make a weather question look answered.
 */
function exactly(r: SearchResult): string[] {
  const docTerms = Object.keys(r.match);
  return r.queryTerms.filter((q) => docTerms.some((d) => d === q || d.startsWith(q) || oneTypo(q, d)));
}

/** Each list's first hit, then each list's second…, without repeats (the lists of a multi-question message). */
function interleave(lists: Hit[][]): Hit[] {
  if (lists.length === 1) return lists[0]!;
  const out = new Map<string, Hit>();
  for (let i = 0; i < Math.max(...lists.map((l) => l.length)); i++) {
    for (const l of lists) {
      const h = l[i];
      if (h && !out.has(h.passage.key)) out.set(h.passage.key, h);
    }
  }
  return [...out.values()];
}

/** Full-text hits kept per question (or part) before relevance is decided. */
const LEXICAL_HITS = 20;

/** A left-out common term's score in a passage that has it: BM25+ of one occurrence in a passage of average length (k1 1.2, b 0.7, δ 0.5), times its IDF. */
const COMMON_TERM_SCORE = 1.5;

function newIndex(): MiniSearch {
  return new MiniSearch({
    fields: ['title', 'path', 'text'],
    storeFields: ['source'],
    // The same analyzer as questions, FAQ matching and the metrics: segment, then stop-word and stem.
    tokenize: (text) => words(text),
    processTerm: (t) => term(t) ?? null,
    searchOptions: {
      boost: { title: 2, path: 1.5 },
      prefix: (t) => t.length >= 6,
      fuzzy: (t) => (t.length >= 8 ? 2 : t.length >= FUZZY_MIN_LENGTH ? 1 : false),
      combineWith: 'OR',
    },
  });
}
