import { chunkMarkdown, chunkPlainText, type Chunk, type ChunkOptions } from '../chunk.js';
import { pdfChunks } from './pdf.js';

/**
 * One document of a source, cut into passages: what every loader (folder, docs site) hands the
 * knowledge base. FAQ files stay raw text: the knowledge base parses them (a broken one is a config error).
 */
export interface SourceDocument {
  /** The file's path inside its folder, or the page's URL. */
  path: string;
  /** The raw text of an FAQ file (`*.yaml`). */
  faq?: string;
  chunks: Chunk[];
}

export type DocumentKind = 'markdown' | 'text' | 'html' | 'pdf';

/**
 * Largest document read. A help page or manual is a few MB at most (a PDF with images maybe
 * 10–20); anything bigger is almost surely an export or binary put there by mistake, and would be held in memory whole.
 */
export const MAX_DOCUMENT_BYTES = 25 * 1024 * 1024;

/** The kind of a file by its name; undefined for files that are not knowledge. */
export function kindOfFile(path: string): DocumentKind | undefined {
  if (/\.(md|markdown)$/i.test(path)) return 'markdown';
  if (/\.txt$/i.test(path)) return 'text';
  if (/\.x?html?$/i.test(path)) return 'html';
  if (/\.pdf$/i.test(path)) return 'pdf';
  return undefined;
}

/** The kind of a fetched page by its Content-Type (then its URL); undefined for anything else (images, zips). */
export function kindOfResponse(contentType: string | null, url: string): DocumentKind | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
  if (type === 'application/pdf') return 'pdf';
  if (type === 'text/markdown' || type === 'text/x-markdown') return 'markdown';
  if (type === 'text/plain') return kindOfFile(new URL(url).pathname) === 'markdown' ? 'markdown' : 'text';
  return type ? undefined : kindOfFile(new URL(url).pathname);
}

/** Passages of one document; empty when it has no text. Throws on a document that cannot be parsed (a corrupt PDF). */
export async function documentChunks(path: string, kind: DocumentKind, bytes: Uint8Array, options: ChunkOptions): Promise<Chunk[]> {
  const title = titleOf(path);
  if (kind === 'pdf') return pdfChunks(path, bytes, title, options);
  const text = new TextDecoder('utf-8').decode(bytes);
  if (kind === 'text') return chunkPlainText(path, text, options);
  if (kind === 'html') {
    // linkedom loads with the first HTML document: a folder of Markdown never pays for it (idle RSS).
    const { htmlToMarkdown } = await import('./html.js');
    const page = htmlToMarkdown(text, title);
    return page.markdown ? chunkMarkdown(path, page.markdown, options) : [];
  }
  return chunkMarkdown(path, text, options);
}

/** "billing/refund-policy.pdf" → "Refund policy"; a URL's last path segment likewise. */
function titleOf(path: string): string {
  const base = decodeURIComponent(
    path
      .replace(/[?#].*$/, '')
      .replace(/\/+$/, '')
      .split('/')
      .pop() ?? path,
  );
  const stem =
    base
      .replace(/\.[^.]+$/, '')
      .replace(/[-_]+/g, ' ')
      .trim() || path;
  return stem.charAt(0).toUpperCase() + stem.slice(1);
}
