import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import MiniSearch, { type SearchResult } from 'minisearch';
import type { Citation } from '../kernel/adapter.js';
import { ConfigError, describe } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import { chunkMarkdown, chunkPlainText, DEFAULT_CHUNK_OPTIONS, type Chunk, type ChunkOptions } from './chunk.js';
import { cosine, type CachedEmbedder } from './embeddings.js';
import { bestFaqMatch, parseFaqFile, type FaqEntry, type FaqMatch } from './faq.js';
import { sha256, term, terms } from './text.js';

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
  /** Share of the question's terms found in the passage (0–1). */
  coverage: number;
  /** Cosine similarity with the question, when embeddings are on. */
  similarity?: number;
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
}

const TEXT_FILES = /\.(md|markdown|txt)$/i;
const FAQ_FILES = /\.ya?ml$/i;
/** Reciprocal-rank fusion constant (the usual 60): ranks matter, raw scores of different kinds do not. */
const RRF_K = 60;

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
  private faq: FaqEntry[] = [];
  private watchers: FSWatcher[] = [];
  private reloadTimer?: NodeJS.Timeout;
  private loading?: Promise<void>;
  version = '';
  stats = { files: 0, passages: 0, faqEntries: 0, indexMs: 0 };

  constructor(readonly sources: readonly KnowledgeSource[], private readonly o: KnowledgeOptions) {
    super();
  }

  /** Reads every source and swaps in the new index. A broken FAQ file throws a ConfigError naming it. */
  async load(): Promise<void> {
    const started = performance.now();
    const passages = new Map<string, Passage>();
    const faq: FaqEntry[] = [];
    let files = 0;
    for (const source of this.sources) {
      for (const file of await listFiles(source.dir, source.configKey)) {
        const path = relative(source.dir, file).split(sep).join('/');
        const text = await readFile(file, 'utf8');
        files++;
        if (FAQ_FILES.test(path)) {
          for (const entry of parseFaqFile(`${source.displayPath}/${path}`, text)) {
            faq.push({ ...entry, file: path, sourceName: source.name });
            // FAQ entries are passages too, so retrieval and degraded answers can use them.
            const chunk: Chunk = { id: `${path}#${entry.id}`, path: entry.source ?? path, title: entry.questions[0]!, anchor: '', text: `${entry.questions.join('\n')}\n\n${entry.answer}` };
            passages.set(`${source.name}:${chunk.id}`, { ...this.passage(source, chunk), quote: entry.answer });
          }
        } else {
          const chunks = /\.txt$/i.test(path) ? chunkPlainText(path, text, this.o.chunk) : chunkMarkdown(path, text, this.o.chunk ?? DEFAULT_CHUNK_OPTIONS);
          for (const c of chunks) passages.set(`${source.name}:${c.id}`, this.passage(source, c));
        }
      }
    }
    // An FAQ entry is cited under its page's title: each page's title, by source and path, found once.
    const pageTitles = new Map<string, string>();
    for (const p of passages.values()) {
      const at = `${p.source}:${p.path}`;
      if (p.quote === undefined && !pageTitles.has(at)) pageTitles.set(at, p.title.split(' › ')[0]!);
    }
    for (const p of passages.values()) if (p.quote !== undefined) p.citeTitle = pageTitles.get(`${p.source}:${p.path}`);
    if (this.o.embedder) {
      const list = [...passages.values()];
      const vectors = await this.o.embedder.embed(list.map(embeddingText));
      list.forEach((p, i) => (p.vector = vectors[i]));
    }
    const index = newIndex();
    index.addAll([...passages.values()].map((p) => ({ id: p.key, title: p.title, path: p.path.replace(/[/._-]+/g, ' '), text: p.text, source: p.source })));
    const version = sha256([...passages.values()].map((p) => `${p.key}:${p.hash}`).sort().join('\n') + faq.map((f) => f.answer + f.questions.join('|')).join('\n')).slice(0, 16);
    const changed = version !== this.version;
    this.index = index;
    this.passages = passages;
    this.pageTitles = pageTitles;
    this.faq = faq;
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
      try {
        const w = watch(source.dir, { recursive: true }, () => {
          clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => {
            this.refresh().catch((err) => this.o.log.warn({ err: describe(err), source: source.name }, 'knowledge re-index failed; keeping the previous index'));
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

  close(): void {
    clearTimeout(this.reloadTimer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** Best passages for `question` (plus thread context), best first. */
  async search(question: string, options: SearchOptions = {}): Promise<Hit[]> {
    const k = options.k ?? 5;
    const allowed = options.sources ? new Set(options.sources) : undefined;
    const filter = allowed ? (r: SearchResult) => allowed.has(r.source as string) : undefined;
    const qTerms = new Set(terms(question));
    const fused = new Map<string, Hit>();
    const add = (key: string, rank: number, weight: number, patch: Partial<Hit>) => {
      const passage = this.passages.get(key);
      if (!passage) return;
      const hit = fused.get(key) ?? { passage, score: 0, coverage: 0 };
      hit.score += weight / (RRF_K + rank);
      Object.assign(hit, patch, { coverage: Math.max(hit.coverage, patch.coverage ?? 0) });
      fused.set(key, hit);
    };

    const share = (found: Iterable<string>, of: Set<string>) => {
      let n = 0;
      for (const t of new Set(found)) if (of.has(t)) n++;
      return of.size ? n / of.size : 0;
    };
    const context = options.context?.trim();
    if (!context) {
      this.lexical(question, filter).forEach((r, i) => add(r.id as string, i, 1, { coverage: share(r.queryTerms, qTerms) }));
    } else {
      // In a thread the recent context joins the query (a follow-up often leaves out its subject),
      // with the question's own terms weighted up so a new topic still wins over the old one.
      const all = new Set(terms(`${question} ${context}`));
      this.lexical(`${question} ${context}`, filter, (t) => (qTerms.has(t) ? 1.5 : 1)).forEach((r, i) =>
        add(r.id as string, i, 1, { coverage: Math.max(share(r.queryTerms, qTerms), share(r.queryTerms, all)) }),
      );
    }
    if (this.o.embedder) {
      try {
        const [qv] = await this.o.embedder.embed([options.context ? `${options.context}\n${question}` : question]);
        const ranked = [...this.passages.values()]
          .filter((p) => p.vector && (!allowed || allowed.has(p.source)))
          .map((p) => ({ p, s: cosine(qv!, p.vector!) }))
          .sort((a, b) => b.s - a.s)
          .slice(0, 20);
        ranked.forEach(({ p, s }, i) => add(p.key, i, 1, { similarity: s }));
      } catch (err) {
        // Embeddings are an improvement, not a dependency: BM25 alone still answers.
        this.o.log.warn({ err: describe(err) }, 'embedding the question failed; ranking by full text only');
      }
    }
    return [...fused.values()].sort((a, b) => b.score - a.score).slice(0, k);
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

  get size(): number {
    return this.passages.size;
  }

  private lexical(query: string, filter?: (r: SearchResult) => boolean, boostTerm?: (term: string) => number): SearchResult[] {
    return this.index.search(query, { filter, boostTerm }).slice(0, 20);
  }

  private passage(source: KnowledgeSource, c: Chunk): Passage {
    return { ...c, key: `${source.name}:${c.id}`, source: source.name, location: locate(source, c.path, c.anchor), hash: sha256(`${c.title}\n${c.text}`) };
  }
}

export function citationOf(p: Passage): Citation {
  return { id: p.key, title: p.citeTitle ?? p.title, location: p.location };
}

function locate(source: KnowledgeSource, path: string, anchor: string): string {
  if (/^https?:\/\//.test(path)) return path;
  if (source.url) return `${source.url.replace(/\/+$/, '')}/${path}${anchor ? `#${anchor}` : ''}`;
  return `${source.displayPath}/${path}${anchor ? `#${anchor}` : ''}`;
}

function embeddingText(p: Passage): string {
  return `${p.title}\n${p.text}`;
}

function newIndex(): MiniSearch {
  return new MiniSearch({
    fields: ['title', 'path', 'text'],
    storeFields: ['source'],
    processTerm: (t) => term(t) ?? null,
    searchOptions: {
      boost: { title: 2, path: 1.5 },
      prefix: (t) => t.length >= 5,
      fuzzy: (t) => (t.length >= 7 ? 0.15 : false),
      combineWith: 'OR',
    },
  });
}

async function listFiles(dir: string, key = dir): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    throw new ConfigError(key, `cannot read the knowledge folder ${dir}: ${describe(err)}`);
  }
  return entries
    .filter((e) => e.isFile() && (TEXT_FILES.test(e.name) || FAQ_FILES.test(e.name)) && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}
