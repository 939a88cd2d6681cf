import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ConfigError, describe } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { ChunkOptions } from '../chunk.js';
import { documentChunks, kindOfFile, MAX_DOCUMENT_BYTES, type SourceDocument } from './documents.js';

const FAQ_FILES = /\.ya?ml$/i;

/**
 * Every document of a folder: Markdown, text, HTML and PDF pages, and FAQ files. A file that
 * cannot be used (too large, corrupt, no text) is skipped with one warning naming it, so one
 * bad export does not take the whole knowledge base down; a missing folder is a config error.
 */
export async function loadFolder(
  source: { dir: string; displayPath: string; configKey?: string },
  o: { log: Logger; chunk: ChunkOptions; maxBytes?: number },
): Promise<SourceDocument[]> {
  const maxBytes = o.maxBytes ?? MAX_DOCUMENT_BYTES;
  const docs: SourceDocument[] = [];
  for (const file of await listFiles(source.dir, source.configKey)) {
    const path = relative(source.dir, file).split(sep).join('/');
    const named = `${source.displayPath}/${path}`;
    try {
      const { size } = await stat(file);
      if (size > maxBytes) {
        o.log.warn({ file: named, bytes: size, limit: maxBytes }, 'knowledge file skipped: larger than the size limit');
        continue;
      }
      if (FAQ_FILES.test(path)) {
        docs.push({ path, faq: await readFile(file, 'utf8'), chunks: [] });
        continue;
      }
      const chunks = await documentChunks(path, kindOfFile(path)!, await readFile(file), o.chunk);
      if (!chunks.length) {
        o.log.warn({ file: named }, 'knowledge file skipped: no text');
        continue;
      }
      docs.push({ path, chunks });
    } catch (err) {
      o.log.warn({ file: named, err: describe(err) }, 'knowledge file skipped: cannot be read');
    }
  }
  return docs;
}

async function listFiles(dir: string, key = dir): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (err) {
    throw new ConfigError(key, `cannot read the knowledge folder ${dir}: ${describe(err)}`);
  }
  return entries
    .filter((e) => e.isFile() && (kindOfFile(e.name) || FAQ_FILES.test(e.name)) && !e.name.startsWith('.'))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}
