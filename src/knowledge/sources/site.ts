import { gunzipSync } from 'node:zlib';
import robotsParserModule from 'robots-parser';
import { describe } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { Chunk, ChunkOptions } from '../chunk.js';
import { documentChunks, kindOfResponse, MAX_DOCUMENT_BYTES, type SourceDocument } from './documents.js';

/**
 * A docs site given by its sitemap: every page it lists (same origin, allowed by robots.txt)
 * is fetched, cut into passages and cached in the store with its ETag/Last-Modified. A restart
 * reads the cache and fetches nothing while the entries are fresh; a re-check sends
 * conditional requests, so unchanged pages cost a 304. A page that cannot be used (404,
 * too large, no text, unknown type) is skipped with one warning naming its URL, and remembered
 * as such until the next re-check.
 */

/** The User-Agent robots.txt rules are matched against. */
export const USER_AGENT = 'ParleyBot';
const USER_AGENT_HEADER = `${USER_AGENT}/1.0 (+knowledge fetcher of a Parley support assistant)`;
/** Pages fetched at once from one site: a few, so a docs site never feels us. */
const SITE_CONCURRENCY = 4;
/** The sitemaps.org protocol's limit of URLs per sitemap file. */
const SITEMAP_MAX_URLS = 50_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Where fetched pages are kept (a Keyv namespace of the store, or a Map for one-shot runs). */
export interface SiteCache {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}

export interface SiteSource {
  name: string;
  sitemap: string;
  refreshMinutes?: number;
}

export interface SiteOptions {
  log: Logger;
  chunk: ChunkOptions;
  cache: SiteCache;
  /** Re-check every entry now (the schedule), instead of only those older than `refreshMinutes`. */
  recheck?: boolean;
  maxBytes?: number;
  now?: () => number;
}

interface Validators {
  etag?: string;
  lastModified?: string;
  checkedAt: number;
}
interface CachedPage extends Validators {
  /** The chunk options the passages were cut with: other options mean fetching again. */
  cut: string;
  chunks: Chunk[];
}
interface CachedSitemap extends Validators {
  urls: string[];
  sitemaps: string[];
}
interface CachedRobots extends Validators {
  text: string;
}

export async function loadSite(source: SiteSource, o: SiteOptions): Promise<SourceDocument[]> {
  const site = new SiteReader(source, o);
  const origin = new URL(source.sitemap).origin;
  const listed = await site.pageUrls();
  const robots = await site.robots(origin);
  const foreign = listed.filter((u) => new URL(u).origin !== origin);
  if (foreign.length)
    o.log.warn(
      { sitemap: source.sitemap, count: foreign.length, first: foreign[0] },
      'sitemap pages on another site skipped (sitemaps may only list their own site)',
    );
  const local = listed.filter((u) => new URL(u).origin === origin);
  const allowed = local.filter((u) => robots.isAllowed(u, USER_AGENT) !== false);
  if (allowed.length < local.length) {
    o.log.info(
      { sitemap: source.sitemap, count: local.length - allowed.length, first: local.find((u) => !allowed.includes(u)) },
      'pages disallowed by robots.txt skipped',
    );
  }
  const docs: SourceDocument[] = [];
  await pool(allowed, SITE_CONCURRENCY, async (url) => {
    const chunks = await site.page(url);
    if (chunks?.length) docs.push({ path: url, chunks });
  });
  // Sitemap order, whatever order the fetches finished in: the index (and its version) stays stable.
  const order = new Map(allowed.map((u, i) => [u, i]));
  return docs.sort((a, b) => order.get(a.path)! - order.get(b.path)!);
}

class SiteReader {
  private readonly refreshMs: number;
  private readonly maxBytes: number;
  private readonly cut: string;

  constructor(
    private readonly source: SiteSource,
    private readonly o: SiteOptions,
  ) {
    this.refreshMs = (source.refreshMinutes ?? 360) * 60_000;
    this.maxBytes = o.maxBytes ?? MAX_DOCUMENT_BYTES;
    this.cut = JSON.stringify(o.chunk);
  }

  /** Page URLs of the sitemap and the sitemaps it names (each read once: an index naming itself or a parent is a loop, skipped). */
  async pageUrls(): Promise<string[]> {
    const seen = new Set<string>();
    const urls = new Set<string>();
    const read = async (sitemap: string): Promise<void> => {
      if (seen.has(sitemap)) {
        this.o.log.warn({ sitemap }, 'sitemap loop skipped: this sitemap was already read');
        return;
      }
      seen.add(sitemap);
      const map = await this.sitemap(sitemap);
      for (const u of map?.urls ?? []) if (urls.size < SITEMAP_MAX_URLS) urls.add(u);
      for (const child of map?.sitemaps ?? []) await read(child);
    };
    await read(this.source.sitemap);
    return [...urls];
  }

  async robots(origin: string): Promise<{ isAllowed(url: string, ua: string): boolean | undefined }> {
    const url = `${origin}/robots.txt`;
    const entry = await this.cached<CachedRobots>(`robots:${url}`, url, { text: '' }, async (res) => ({
      text: new TextDecoder().decode(await this.body(res)),
    }));
    return robotsParser(url, entry?.text ?? '');
  }

  private sitemap(url: string): Promise<CachedSitemap | undefined> {
    return this.cached<CachedSitemap>(`sitemap:${url}`, url, { urls: [], sitemaps: [] }, async (res) => {
      let bytes = await this.body(res);
      if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes); // sitemap.xml.gz
      return parseSitemap(new TextDecoder().decode(bytes), url);
    });
  }

  /** A page's passages: from the cache while fresh, else fetched (conditionally when cached). Undefined: skipped. */
  async page(url: string): Promise<Chunk[] | undefined> {
    const entry = await this.cached<CachedPage>(
      `page:${url}`,
      url,
      { cut: this.cut, chunks: [] },
      async (res) => {
        const kind = kindOfResponse(res.headers.get('content-type'), url);
        if (!kind) throw new SkipError(`not a document (Content-Type ${res.headers.get('content-type') ?? 'missing'})`);
        const chunks = await documentChunks(url, kind, await this.body(res), this.o.chunk);
        if (!chunks.length) this.o.log.warn({ url }, 'knowledge page skipped: no text');
        return { cut: this.cut, chunks };
      },
      (e) => e.cut === this.cut,
    );
    return entry?.chunks;
  }

  /**
   * The cached entry for `key` while fresh; else a (conditional) GET of `url`: 304 keeps the
   * entry, 200 replaces it through `parse`. What cannot be used (a 4xx, or `parse` refusing it:
   * too large, corrupt, not a document) is logged once and cached as `empty` until the next
   * re-check, so a restart does not ask again; a network error or 5xx keeps a cached copy.
   */
  private async cached<T extends Validators>(
    key: string,
    url: string,
    empty: Omit<T, keyof Validators>,
    parse: (res: Response) => Promise<Omit<T, keyof Validators>>,
    valid?: (entry: T) => boolean,
  ): Promise<T | undefined> {
    const now = (this.o.now ?? Date.now)();
    let entry = (await this.o.cache.get(key).catch(() => undefined)) as T | undefined;
    if (entry && valid && !valid(entry)) entry = undefined;
    if (entry && !this.o.recheck && now - entry.checkedAt < this.refreshMs) return entry;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT_HEADER };
    if (entry?.etag) headers['if-none-match'] = entry.etag;
    if (entry?.lastModified) headers['if-modified-since'] = entry.lastModified;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      this.o.log.warn({ url, err: describe(err) }, entry ? 'knowledge fetch failed; keeping the cached copy' : 'knowledge page skipped: fetch failed');
      return entry;
    }
    const unusable = async (): Promise<T> => {
      const gone = { ...empty, checkedAt: now } as T;
      await this.save(key, gone);
      return gone;
    };
    try {
      if (res.status === 304 && entry) {
        const fresh = { ...entry, checkedAt: now };
        await this.save(key, fresh);
        return fresh;
      }
      if (!res.ok) {
        // A missing robots.txt means everything is allowed: not worth a warning.
        if (!key.startsWith('robots:') || res.status >= 500) this.o.log.warn({ url, status: res.status }, `knowledge page skipped: HTTP ${res.status}`);
        return res.status >= 400 && res.status < 500 ? await unusable() : entry;
      }
      const fresh = {
        ...(await parse(res)),
        etag: res.headers.get('etag') ?? undefined,
        lastModified: res.headers.get('last-modified') ?? undefined,
        checkedAt: now,
      } as T;
      await this.save(key, fresh);
      return fresh;
    } catch (err) {
      this.o.log.warn({ url, err: describe(err) }, 'knowledge page skipped: cannot be read');
      return unusable();
    } finally {
      await res.body?.cancel().catch(() => undefined);
    }
  }

  private async save(key: string, value: unknown): Promise<void> {
    // A store outage costs a refetch after the next restart, not the index.
    await this.o.cache.set(key, value).catch((err) => this.o.log.warn({ err: describe(err) }, 'cannot cache a knowledge page in the store'));
  }

  /** The body, refused past the size limit (by Content-Length, or while reading when absent). */
  private async body(res: Response): Promise<Uint8Array> {
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > this.maxBytes) throw new SkipError(`larger than the size limit (${declared} bytes > ${this.maxBytes})`);
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const part of res.body ?? []) {
      total += part.length;
      if (total > this.maxBytes) throw new SkipError(`larger than the size limit (over ${this.maxBytes} bytes)`);
      parts.push(part);
    }
    return Buffer.concat(parts);
  }
}

class SkipError extends Error {}

// robots-parser is CommonJS (`module.exports = fn`) while its types declare `export default`: under NodeNext the import is the function itself.
const robotsParser = robotsParserModule as unknown as typeof robotsParserModule.default;

/** `<urlset>` page URLs or `<sitemapindex>` child sitemaps (relative and other-scheme entries ignored). */
export function parseSitemap(xml: string, base: string): { urls: string[]; sitemaps: string[] } {
  const locs = [...xml.matchAll(/<loc>\s*(?:<!\[CDATA\[)?([^<\]]*?)(?:\]\]>)?\s*<\/loc>/gi)]
    .map((m) => decodeXml(m[1]!))
    .filter((u) => /^https?:\/\//i.test(u));
  if (!/<(?:\w+:)?urlset[\s>]/i.test(xml) && !/<(?:\w+:)?sitemapindex[\s>]/i.test(xml))
    throw new SkipError(`${base} is not a sitemap (no <urlset> or <sitemapindex>)`);
  return /<(?:\w+:)?sitemapindex[\s>]/i.test(xml) ? { urls: [], sitemaps: locs } : { urls: locs, sitemaps: [] };
}

function decodeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);
}

async function pool<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
