import type { Chunk, ChunkOptions } from '../chunk.js';
import { chunkPlainText } from '../chunk.js';

/**
 * PDFs by their text layer, one passage (or more, if long) per page, so a citation names the
 * page: the anchor `page=N` is the fragment PDF viewers open at that page (RFC 8118).
 * Scanned PDFs without a text layer give no passages (OCR is out of scope).
 */
export async function pdfChunks(path: string, bytes: Uint8Array, fallbackTitle: string, options: ChunkOptions): Promise<Chunk[]> {
  // Loaded only when a PDF is met: pdf.js is large and most sources have none.
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // A copy: pdf.js refuses Buffers and may detach the array it is given.
  const doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 })
    .promise;
  try {
    const info = (await doc.getMetadata().catch(() => undefined))?.info as { Title?: string } | undefined;
    const title = info?.Title?.trim() || fallbackTitle;
    const chunks: Chunk[] = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) if ('str' in item) text += item.str + (item.hasEOL ? '\n' : '');
      page.cleanup();
      const parts = chunkPlainText(path, text.replace(/[ \t]+/g, ' '), options);
      parts.forEach((p, i) =>
        chunks.push({
          id: `${path}#page-${n}${i ? `-${i + 1}` : ''}`,
          path,
          title: `${title} › page ${n}${i ? ` (part ${i + 1})` : ''}`,
          anchor: `page=${n}`,
          text: p.text,
        }),
      );
    }
    return chunks;
  } finally {
    await doc.destroy();
  }
}
