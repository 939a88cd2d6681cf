import type { LiveSettings } from '../config/live-settings.js';
import type { Settings } from '../config/settings.js';
import { describe } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import type { Store } from '../store/store.js';
import { KnowledgeBase } from './base.js';
import { CachedEmbedder, HttpEmbedder, type Embedder } from './embeddings.js';

/** The store namespace holding fetched docs-site pages, sitemaps and robots.txt files. */
const SITE_CACHE_NAMESPACE = 'knowledge-sites';

export interface LiveKnowledgeOptions {
  store: Store;
  log: Logger;
  /** Watch the folders and re-index on change (off for one-shot commands). */
  watch: boolean;
  /** Overrides the embedder built from the settings (tests). */
  embedder?: Embedder;
}

/**
 * The knowledge base for the current settings: built at start, rebuilt when a config reload
 * changes the sources (a failed rebuild keeps the previous one), re-indexed on file change.
 */
export class LiveKnowledge {
  private kb?: KnowledgeBase;
  private signature = '';

  constructor(
    private readonly config: LiveSettings,
    private readonly o: LiveKnowledgeOptions,
  ) {
    config.on('change', (s: Settings) => {
      this.rebuild(s).catch((err) => o.log.warn({ err: describe(err) }, 'knowledge rebuild after config change failed; keeping the previous knowledge'));
    });
  }

  get current(): KnowledgeBase | undefined {
    return this.kb;
  }

  /** Builds the first index; errors (a broken FAQ file, a missing folder) stop the start. */
  async start(): Promise<void> {
    // Production never falls back to example docs (issue 16), so an operator must see that none are set.
    if (!this.config.current.knowledge.sources.length) {
      this.o.log.warn(
        'no knowledge configured: answers come from the model alone (set KNOWLEDGE_DIR, KNOWLEDGE_URLS or knowledge.sources in parley.config.yaml)',
      );
    }
    await this.rebuild(this.config.current);
  }

  close(): void {
    this.kb?.close();
  }

  private async rebuild(s: Settings): Promise<void> {
    const k = s.knowledge;
    const signature = JSON.stringify([k.sources, k.embeddings, k.chunk, k.watch]);
    if (signature === this.signature) return;
    if (!k.sources.length) {
      this.kb?.close();
      this.kb = undefined;
      this.signature = signature;
      return;
    }
    let embedder: CachedEmbedder | undefined;
    const inner = this.o.embedder ?? (k.embeddings ? httpEmbedder(s, k.embeddings) : undefined);
    if (inner) embedder = new CachedEmbedder(inner, this.o.store, this.o.log);
    // Docs-site pages are cached in the store, so a restart (or another instance) does not fetch them again.
    const kb = new KnowledgeBase(k.sources, {
      log: this.o.log.child({ component: 'knowledge' }),
      chunk: k.chunk,
      embedder,
      siteCache: this.o.store.namespace(SITE_CACHE_NAMESPACE),
    });
    await kb.load();
    if (this.o.watch && k.watch) kb.watch();
    this.kb?.close();
    this.kb = kb;
    this.signature = signature;
  }
}

function httpEmbedder(s: Settings, e: { provider: string; model: string }): Embedder | undefined {
  const p = s.providers.get(e.provider);
  return p ? new HttpEmbedder({ baseURL: p.baseURL, apiKey: p.apiKey, model: e.model }) : undefined;
}
