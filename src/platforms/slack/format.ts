/**
 * Text crossing the Slack boundary, both ways:
 * - out: the model's Markdown → Slack mrkdwn (for chat.postMessage / chat.update `text`), or
 *   Markdown kept as Markdown for native streams (`markdown_text`, which Slack renders itself);
 *   either way broadcast and user mentions the model wrote are made inert.
 * - in: a question's `<@U…>`, `<#C…|name>`, `<!here>` and links → readable text for the model.
 */

/** A zero-width space: breaks `@here` / `<!channel>` for Slack's parser while reading the same. */
const ZWSP = '\u200B';
const BROADCAST_WORDS = /(^|[^\w])@(here|channel|everyone)\b/gi;

/** Slack's three control characters; everything else in mrkdwn is literal. */
function escapeControl(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** `@here`, `@channel`, `@everyone` typed as plain words: broken with a zero-width space. */
function breakBroadcastWords(s: string): string {
  return s.replace(BROADCAST_WORDS, (_m, pre: string, word: string) => `${pre}@${ZWSP}${word}`);
}

/**
 * Markdown for `markdown_text` (native streams): `<!channel>`, `<!subteam^…>`, `<@U…>` and `@here`
 * made inert. Prefix-stable: the neutralised form of a longer text starts with the neutralised
 * form of any prefix of it, so a stream can send the difference of the two. That is why every
 * standalone `@` gets the zero-width space (whether `here` follows is not known yet mid-stream).
 */
export function neutraliseMarkdown(md: string): string {
  return md.replace(/<([!@#])/g, `<${ZWSP}$1`).replace(/(^|[^\w\u200B])@/g, `$1@${ZWSP}`);
}

/** chat.postMessage / chat.update reject `text` over 4,000 characters (`msg_too_long`). */
export const SLACK_TEXT_LIMIT = 4_000;

/** Mrkdwn for a message `text`, never over Slack's limit (an oversize conversion is cut, never refused). */
export function messageMrkdwn(md: string): string {
  const text = toMrkdwn(md);
  return text.length <= SLACK_TEXT_LIMIT ? text : text.slice(0, SLACK_TEXT_LIMIT - 1) + '…';
}

/** Markdown → mrkdwn, with every mention the model wrote made inert. */
export function toMrkdwn(md: string): string {
  const out: string[] = [];
  const lines = md.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^(\s*)(`{3,}|~{3,})\s*[\w+#.-]*\s*$/.exec(line);
    if (fence) {
      // Code blocks are kept verbatim (escaped) and the language tag dropped: Slack would show it as text.
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !lines[j]!.trim().startsWith(fence[2]!)) body.push(lines[j++]!);
      out.push('```\n' + escapeControl(body.join('\n')) + '\n```');
      i = j;
      continue;
    }
    if (isTableRow(line) && i + 1 < lines.length && isTableSeparator(lines[i + 1]!)) {
      // Slack has no tables: a monospaced block keeps the columns readable.
      const rows: string[] = [];
      let j = i;
      while (j < lines.length && isTableRow(lines[j]!)) {
        if (!isTableSeparator(lines[j]!)) rows.push(lines[j]!);
        j++;
      }
      out.push('```\n' + escapeControl(alignTable(rows)) + '\n```');
      i = j - 1;
      continue;
    }
    out.push(convertLine(line));
  }
  return out.join('\n');
}

function convertLine(line: string): string {
  const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
  if (heading) return `*${stripEmphasis(convertInline(heading[1]!))}*`;
  if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) return '───────────';
  const quote = /^\s{0,3}>\s?(.*)$/.exec(line);
  if (quote) return `> ${convertInline(quote[1]!)}`;
  const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
  if (bullet) {
    const task = /^\[([ xX])\]\s+(.*)$/.exec(bullet[2]!);
    const mark = task ? (task[1] === ' ' ? '☐' : '☑') : '•';
    return `${bullet[1]}${mark} ${convertInline(task ? task[2]! : bullet[2]!)}`;
  }
  const numbered = /^(\s*)(\d+)[.)]\s+(.*)$/.exec(line);
  if (numbered) return `${numbered[1]}${numbered[2]}. ${convertInline(numbered[3]!)}`;
  return convertInline(line);
}

/** Inline spans: code kept, then links, bold, italics, strikethrough. */
function convertInline(text: string): string {
  const parts = text.split(/(`[^`\n]+`)/);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) return escapeControl(part);
      let s = escapeControl(part);
      const links: string[] = [];
      // Links become placeholders so emphasis rules do not touch URLs (underscores, asterisks).
      s = s.replace(/!?\[([^\]]*)\]\(([^)\s]+)(?:\s+&quot;[^)]*&quot;|\s+"[^)]*")?\)/g, (_m, label: string, url: string) => {
        const safeUrl = url.replace(/\|/g, '%7C');
        links.push(label.trim() ? `<${safeUrl}|${label.replace(/\|/g, '¦')}>` : `<${safeUrl}>`);
        return `\u0000${links.length - 1}\u0000`;
      });
      s = s.replace(/&lt;(https?:\/\/[^\s&]+)&gt;/g, (_m, url: string) => {
        links.push(`<${url}>`);
        return `\u0000${links.length - 1}\u0000`;
      });
      s = s.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '\u0001$2\u0001');
      s = s.replace(/(^|[^\w*])\*(?=[^\s*])([^*\n]*?[^\s*])\*(?![\w*])/g, '$1_$2_');
      s = s.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '~$1~');
      s = s.replaceAll('\u0001', '*');
      s = breakBroadcastWords(s);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL brackets the link placeholders this function inserted itself (never in user text).
      return s.replace(/\u0000(\d+)\u0000/g, (_m, n: string) => links[Number(n)]!);
    })
    .join('');
}

/** A heading is shown bold; bold inside it would toggle bold off. */
function stripEmphasis(s: string): string {
  return s.replace(/(^|\s)\*([^*]+)\*(?=\s|$)/g, '$1$2');
}

function isTableRow(line: string): boolean {
  return /^\s*\|.*\|\s*$/.test(line);
}

function isTableSeparator(line: string): boolean {
  return /^\s*\|?(\s*:?-{2,}:?\s*\|)+\s*:?-{0,}:?\s*\|?\s*$/.test(line);
}

function alignTable(rows: string[]): string {
  const cells = rows.map((r) =>
    r
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim()),
  );
  const widths: number[] = [];
  for (const row of cells) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return cells
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join(' | ')
        .trimEnd(),
    )
    .join('\n');
}

// ---- Incoming: Slack markup → readable text -------------------------------------------------

export interface NameLookups {
  /** A user's display name, or undefined if unknown. */
  user(id: string): Promise<string | undefined>;
  /** A channel's name, or undefined if unknown. */
  channel(id: string): Promise<string | undefined>;
}

/**
 * Slack's markup in a question → what a reader sees: `<@U1>` → `@Ada`, `<#C1|general>` →
 * `#general`, `<!here>` → `@here`, `<https://x|docs>` → `docs (https://x)`, entities decoded.
 * `stripUser` (the bot) is removed where it is mentioned.
 */
export async function slackToReadable(text: string, lookups: NameLookups, stripUser?: string): Promise<string> {
  const tokens = [...text.matchAll(/<([^<>]+)>/g)];
  const replacements = await Promise.all(tokens.map((t) => readableToken(t[1]!, lookups, stripUser)));
  let out = '';
  let last = 0;
  tokens.forEach((t, i) => {
    out += text.slice(last, t.index) + replacements[i];
    last = t.index! + t[0].length;
  });
  out += text.slice(last);
  return out
    .replace(/[ \t]{2,}/g, ' ')
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&')
    .trim();
}

async function readableToken(inner: string, lookups: NameLookups, stripUser?: string): Promise<string> {
  const [target = '', label] = splitLabel(inner);
  if (target.startsWith('@')) {
    const id = target.slice(1);
    if (id === stripUser) return '';
    const name = label ?? (await lookups.user(id).catch(() => undefined));
    return `@${(name ?? id).replace(/^@/, '')}`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    const name = label ?? (await lookups.channel(id).catch(() => undefined));
    return `#${name ?? id}`;
  }
  if (target.startsWith('!')) {
    if (target.startsWith('!subteam^')) return `@${(label ?? target.slice('!subteam^'.length)).replace(/^@/, '')}`;
    if (target.startsWith('!date^')) return label ?? '';
    return `@${target.slice(1)}`;
  }
  const url = target;
  const shownUrl = url.replace(/^mailto:/, '');
  if (!label || label === shownUrl || label === url) return shownUrl;
  return `${label} (${url})`;
}

function splitLabel(inner: string): [string, string | undefined] {
  const bar = inner.indexOf('|');
  return bar < 0 ? [inner, undefined] : [inner.slice(0, bar), inner.slice(bar + 1)];
}
