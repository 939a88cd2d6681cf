/**
 * Cuts documents into passages that are small enough to rank precisely and to fit several in a
 * prompt, yet big enough to carry an answer: Markdown by headings (a section too long is split
 * on paragraphs, a section too short joins its neighbour), plain text by paragraphs.
 */

import { knowledgeSchema } from '../config/file.js';

export interface Chunk {
  /** Stable id: `path#section-slug` (plus `-2`, `-3` for a section split in parts). */
  id: string;
  /** Path of the file inside its source, with `/` separators. */
  path: string;
  /** "Page title › Section" (the page title alone for the introduction). */
  title: string;
  /** The section's heading anchor, empty for the introduction. */
  anchor: string;
  text: string;
}

export interface ChunkOptions {
  /** A section longer than this (characters) is split on paragraph boundaries. */
  maxChars: number;
  /** A section shorter than this is merged into the previous chunk of the same page. */
  minChars: number;
}

/** The config file's `knowledge.chunk` defaults (knowledgeSchema), the one place they are declared. */
export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = knowledgeSchema.parse({}).chunk;

interface Section {
  heading: string;
  level: number;
  lines: string[];
}

export function slugify(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s+/g, '-');
}

/** Splits Markdown on `#`–`###` headings (ignoring `#` lines inside code fences). */
export function chunkMarkdown(path: string, source: string, options: ChunkOptions = DEFAULT_CHUNK_OPTIONS): Chunk[] {
  const sections: Section[] = [{ heading: '', level: 0, lines: [] }];
  let inFence = false;
  for (const line of source.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^(#{1,3})\s+(.+?)\s*#*\s*$/.exec(line);
    if (h) sections.push({ heading: h[2]!, level: h[1]!.length, lines: [] });
    else sections[sections.length - 1]!.lines.push(line);
  }
  const titleSection = sections.find((s) => s.level === 1);
  const pageTitle = titleSection?.heading ?? fileTitle(path);

  const chunks: Chunk[] = [];
  const used = new Map<string, number>();
  for (const s of sections) {
    const body = s.lines.join('\n').trim();
    if (!body) continue;
    const isIntro = s.level <= 1;
    const anchor = isIntro ? '' : slugify(s.heading);
    const title = isIntro ? pageTitle : `${pageTitle} › ${s.heading}`;
    const previous = chunks[chunks.length - 1];
    if (previous && body.length < options.minChars && previous.text.length + body.length <= options.maxChars) {
      previous.text += `\n\n${isIntro ? '' : `${s.heading}\n`}${body}`;
      continue;
    }
    const parts = splitParagraphs(body, options.maxChars);
    parts.forEach((text, i) => {
      const base = `${path}#${anchor || 'top'}`;
      const n = (used.get(base) ?? 0) + 1;
      used.set(base, n);
      chunks.push({ id: n === 1 ? base : `${base}-${n}`, path, title: i === 0 ? title : `${title} (cont.)`, anchor, text });
    });
  }
  return chunks;
}

/** Plain text: paragraphs packed into chunks up to `maxChars`, titled by the file name. */
export function chunkPlainText(path: string, source: string, options: ChunkOptions = DEFAULT_CHUNK_OPTIONS): Chunk[] {
  const title = fileTitle(path);
  return splitParagraphs(source.replace(/\r\n?/g, '\n').trim(), options.maxChars).map((text, i) => ({
    id: `${path}#part-${i + 1}`,
    path,
    title: i === 0 ? title : `${title} (part ${i + 1})`,
    anchor: '',
    text,
  }));
}

/** Packs paragraphs into pieces of at most `max` characters; a single longer paragraph is cut on sentences. */
function splitParagraphs(text: string, max: number): string[] {
  if (!text) return [];
  if (text.length <= max) return [text];
  const paragraphs = text.split(/\n\s*\n/).flatMap((p) => (p.length <= max ? [p] : (p.match(new RegExp(`[^]{1,${max}}(?=\\s|$)`, 'g')) ?? [p])));
  const out: string[] = [];
  let current = '';
  for (const p of paragraphs) {
    if (current && current.length + p.length + 2 > max) {
      out.push(current.trim());
      current = '';
    }
    current += (current ? '\n\n' : '') + p;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function fileTitle(path: string): string {
  const base = path.split('/').pop() ?? path;
  const stem = base.replace(/\.[^.]+$/, '').replace(/[-_]+/g, ' ');
  return stem.charAt(0).toUpperCase() + stem.slice(1);
}
