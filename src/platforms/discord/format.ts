/**
 * Text going to Discord. Discord renders the Markdown models write (bold, italics, lists,
 * code fences, headings, links), so the text is sent as written, except for mention syntax:
 * `allowed_mentions` already stops every ping (see api.ts), and the text is also neutralised
 * so that a mention never even *looks* like one (and stays inert if it is ever copied into a
 * message sent without `allowed_mentions`).
 *
 * Neutralising replaces `@` with the full-width `＠` (U+FF20): one UTF-16 unit for one, so
 * the length never changes and the renderer's split at 2,000 characters stays exact.
 */
export const MESSAGE_MAX_CHARS = 2000; // Discord message content limit

const FULLWIDTH_AT = '\uFF20';

/** `@everyone`, `@here`, `<@id>`, `<@!id>`, `<@&role>` (and `<@` with odd spacing, which Discord also parses). */
const MASS_MENTION = /@(everyone|here)\b/g;
const ID_MENTION = /<(\s*)@([!&]?\s*\d+)/g;

export function neutraliseMentions(text: string): string {
  return text.replace(MASS_MENTION, `${FULLWIDTH_AT}$1`).replace(ID_MENTION, `<$1${FULLWIDTH_AT}$2`);
}

/** Model Markdown → Discord message content (same length; see above). */
export function toDiscordContent(markdown: string): string {
  return neutraliseMentions(markdown);
}

/** Removes the bot's own mention (`<@id>` or the legacy `<@!id>`) from a question. */
export function stripBotMention(text: string, botId: string): string {
  return text
    .replace(new RegExp(`<@!?${botId}>`, 'g'), ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const THREAD_NAME_MAX_CHARS = 100; // Discord thread name limit

/** A thread name from the question: its first line, shortened, mentions made inert. */
export function threadName(question: string): string {
  const line = (question.split('\n').find((l) => l.trim()) ?? '').trim() || 'Parley';
  const name = neutraliseMentions(line);
  return name.length <= THREAD_NAME_MAX_CHARS ? name : `${name.slice(0, THREAD_NAME_MAX_CHARS - 1)}…`;
}
