import type { Citation } from '../kernel/adapter.js';

/**
 * Compact "Sources" footers for each platform's `complete()`, so every adapter renders the same
 * citations natively: Slack mrkdwn links, Discord Markdown links (in `<…>` so no embed
 * unfurls), plain text for the terminal. Paths that are not URLs are shown as code.
 */
export type CitationStyle = 'slack' | 'discord' | 'markdown' | 'plain';

const isUrl = (s: string) => /^https?:\/\//.test(s);

/**
 * The one pattern for the citation markers the model is asked to write: `[1]`, `[1, 2]`, `[1,2]`.
 * Spaces or tabs before a marker go with it ("refunded [1]." reads "refunded."), never a line break.
 */
const MARKER = /[^\S\n]*\[(\d+(?:\s*,\s*\d+)*)\](?=([\p{L}\p{N}])?)/gu;

/** The passage numbers an answer cites, in order of first mention, each once: "[1, 2] … [3] … [1]" → [1, 2, 3]. */
export function citationNumbers(text: string): number[] {
  const out = new Set<number>();
  for (const m of text.matchAll(MARKER)) for (const n of m[1]!.split(',')) out.add(Number(n.trim()));
  return [...out];
}

/** The text without citation markers (they are not words or numbers of the answer); a marker glued to a word leaves a space. */
export function stripCitations(text: string): string {
  return text.replace(MARKER, (_marker, _numbers, glued?: string) => (glued ? ' ' : ''));
}

export function citationFooter(citations: readonly Citation[], style: CitationStyle): string {
  if (!citations.length) return '';
  if (style === 'plain') return `Sources:\n${citations.map((c, i) => `  [${i + 1}] ${item(c, style)}`).join('\n')}`;
  const items = citations.map((c, i) => `${i + 1}. ${item(c, style)}`);
  return `${style === 'slack' ? '*Sources*' : '**Sources**'}\n${items.join('\n')}`;
}

/** The answer with its footer, for a surface's `decorate` (Markdown styles). */
export function withCitations(text: string, citations: readonly Citation[] | undefined, style: CitationStyle): string {
  const footer = citationFooter(citations ?? [], style);
  return footer ? `${text}\n\n${footer}` : text;
}

function item(c: Citation, style: CitationStyle): string {
  if (style === 'plain') return `${c.title} — ${c.location}`;
  if (style === 'slack') {
    const title = c.title.replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]!).replace(/\|/g, '¦');
    return isUrl(c.location) ? `<${c.location}|${title}>` : `${title} — \`${c.location}\``;
  }
  const title = c.title.replace(/([[\]()\\*_~`|>])/g, '\\$1');
  // Discord: `<url>` keeps the link from unfurling into an embed; plain Markdown elsewhere.
  const link = style === 'discord' ? `<${c.location}>` : c.location;
  return isUrl(c.location) ? `[${title}](${link})` : `${title} — \`${c.location}\``;
}
