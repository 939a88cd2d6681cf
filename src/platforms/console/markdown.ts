import { Marked } from 'marked';
import { markedTerminal } from 'marked-terminal';

/**
 * Markdown for an interactive terminal (bold, lists, code, links as ANSI), for `parley chat` when
 * stdout is a TTY. A terminal can only append, so a streamed answer is rendered block by block:
 * each part up to a blank line outside a code fence is final once the next one starts.
 */
export type RenderMarkdown = (markdown: string) => string;

export function terminalMarkdown(width = process.stdout.columns): RenderMarkdown {
  const marked = new Marked(markedTerminal({ width: width ? Math.min(width, 100) : 80, reflowText: true, tab: 2 }));
  return (markdown) => (marked.parse(markdown, { async: false }) as string).replace(/\n+$/, '');
}

const FENCE = /^\s{0,3}(```|~~~)/;

/** Where the text can be cut into blocks that render alone: just after the last blank line outside a fence (0 if none). */
export function lastBlockBoundary(text: string): number {
  let inFence = false;
  let boundary = 0;
  let at = 0;
  for (const line of text.split('\n')) {
    const end = at + line.length + 1;
    if (FENCE.test(line)) inFence = !inFence;
    else if (!inFence && line.trim() === '' && end <= text.length) boundary = end;
    at = end;
  }
  return boundary;
}

/**
 * Accumulates the streamed text of one answer and returns what to print: rendered blocks as they
 * become complete, and the rest at `finish`. A text that is not an extension of what came before
 * (a rewritten answer) is rendered again in full.
 */
export class BlockRenderer {
  private text = '';
  /** How much of `text` has been rendered and printed. */
  private printed = 0;
  /** Whether anything was printed (the answer then ends with a newline). */
  private shown = false;

  constructor(private readonly render: RenderMarkdown) {}

  update(text: string): string {
    if (!text.startsWith(this.text.slice(0, this.printed))) {
      this.text = text;
      this.printed = 0;
      this.shown = false;
      return `\n${this.flushTo(lastBlockBoundary(text))}`;
    }
    this.text = text;
    return this.flushTo(lastBlockBoundary(text));
  }

  finish(): string {
    const out = this.flushTo(this.text.length);
    return this.shown ? `${out}\n` : out;
  }

  private flushTo(end: number): string {
    if (end <= this.printed) return '';
    const block = this.text.slice(this.printed, end);
    this.printed = end;
    if (!block.trim()) return '';
    const separator = this.shown ? '\n\n' : '';
    this.shown = true;
    return separator + this.render(block.trim());
  }
}
