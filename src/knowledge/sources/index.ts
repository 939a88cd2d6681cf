import type { Logger } from '../../kernel/logger.js';
import type { ChunkOptions } from '../chunk.js';
import type { SourceDocument } from './documents.js';
import { loadFolder } from './folder.js';
import { loadSite, type SiteCache } from './site.js';

export type { SourceDocument } from './documents.js';
export type { SiteCache } from './site.js';

export interface LoadSourceOptions {
  log: Logger;
  chunk: ChunkOptions;
  /** Where docs-site pages are cached (the store, so a restart does not refetch). */
  siteCache: SiteCache;
  /** Re-check docs-site pages now (conditional requests), fresh or not. */
  recheck?: boolean;
}

/** The documents of one source: a folder, or a docs site by its sitemap. */
export function loadSource(
  source: { name: string; dir: string; displayPath: string; configKey?: string; sitemap?: string; refreshMinutes?: number },
  o: LoadSourceOptions,
): Promise<SourceDocument[]> {
  if (source.sitemap)
    return loadSite(
      { name: source.name, sitemap: source.sitemap, refreshMinutes: source.refreshMinutes },
      { log: o.log, chunk: o.chunk, cache: o.siteCache, recheck: o.recheck },
    );
  return loadFolder(source, o);
}

/** A cache that lives as long as the process (one-shot commands without a store). */
export function memorySiteCache(): SiteCache {
  const m = new Map<string, unknown>();
  return {
    get: async (k) => m.get(k),
    set: async (k, v) => m.set(k, v),
    delete: async (k) => m.delete(k),
  };
}
