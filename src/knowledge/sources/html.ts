import { parseHTML } from 'linkedom';

/**
 * HTML pages (exported help centres, docs sites) as Markdown-like text that `chunkMarkdown`
 * cuts at headings: only the main content is kept (navigation, scripts, headers, footers,
 * sidebars and forms are dropped), headings stay headings so sections become passages.
 */

/** Elements that never carry the page's content. */
const NOISE =
  'script, style, noscript, template, svg, canvas, iframe, object, embed, nav, aside, form, button, select, [role=navigation], [role=banner], [role=contentinfo], [role=search], [aria-hidden=true], [hidden]';
/** Page chrome: dropped when the whole body is read, kept inside `main`/`article` (an article header holds its title). */
const CHROME = 'header, footer';
const BLOCKS = new Set([
  'P',
  'DIV',
  'SECTION',
  'ARTICLE',
  'MAIN',
  'BLOCKQUOTE',
  'UL',
  'OL',
  'DL',
  'DT',
  'DD',
  'TABLE',
  'TR',
  'FIGURE',
  'FIGCAPTION',
  'HEADER',
  'FOOTER',
  'BR',
  'HR',
]);

/** The little of the DOM this walk uses (the project compiles without the DOM lib; linkedom implements it). */
interface DomNode {
  nodeType: number;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
}
interface DomElement extends DomNode {
  tagName: string;
  remove(): void;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}
interface DomDocument {
  body: DomElement | null;
  documentElement: DomElement;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
}

export interface HtmlPage {
  title: string;
  /** `#` title line, then the content with `##`/`###` headings. Empty when the page has no text. */
  markdown: string;
}

export function htmlToMarkdown(html: string, fallbackTitle: string): HtmlPage {
  const document = parseHTML(html).document as unknown as DomDocument;
  const root = mainContent(document);
  for (const el of Array.from(root.querySelectorAll(NOISE))) el.remove();
  if (root === document.body || root === document.documentElement) for (const el of Array.from(root.querySelectorAll(CHROME))) el.remove();

  const h1 = root.querySelector('h1')?.textContent?.trim();
  const title = clean(h1 || document.querySelector('title')?.textContent || '') || fallbackTitle;
  const out: string[] = [];
  walk(root, out, title);
  const body = out
    .join('')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return { title, markdown: body ? `# ${title}\n\n${body}\n` : '' };
}

/** `main`, else a single `article`, else `[role=main]`, else the body. */
function mainContent(document: DomDocument): DomElement {
  const main = document.querySelector('main') ?? document.querySelector('[role=main]');
  if (main) return main;
  const articles = document.querySelectorAll('article');
  if (articles.length === 1) return articles[0]!;
  return document.body ?? document.documentElement;
}

function walk(node: DomNode, out: string[], title: string): void {
  for (const child of Array.from(node.childNodes)) {
    if (child.nodeType === 3) {
      out.push((child.textContent ?? '').replace(/\s+/g, ' '));
      continue;
    }
    if (child.nodeType !== 1) continue;
    const el = child as DomElement;
    const tag = el.tagName.toUpperCase();
    const heading = /^H([1-6])$/.exec(tag);
    if (heading) {
      const text = clean(el.textContent ?? '');
      // The page title is the `#` line already; deeper headings below ### stay sections of their own too.
      if (text && !(heading[1] === '1' && text === title)) out.push(`\n\n${'#'.repeat(Math.min(3, Math.max(2, Number(heading[1]))))} ${text}\n\n`);
      continue;
    }
    if (tag === 'PRE') {
      out.push(`\n\n\`\`\`\n${(el.textContent ?? '').replace(/\n+$/, '')}\n\`\`\`\n\n`);
      continue;
    }
    if (tag === 'LI') {
      out.push('\n- ');
      walk(el, out, title);
      out.push('\n');
      continue;
    }
    if (tag === 'TD' || tag === 'TH') {
      walk(el, out, title);
      out.push(' | ');
      continue;
    }
    const block = BLOCKS.has(tag);
    if (block) out.push('\n\n');
    walk(el, out, title);
    if (block) out.push('\n\n');
  }
}

function clean(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
