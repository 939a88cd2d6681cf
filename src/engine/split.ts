/**
 * Splits Markdown into messages of at most `limit` characters, preferring paragraph, then
 * line, then word boundaries. A code fence that crosses a split is closed at the end of one
 * message and reopened (with its language) at the start of the next, so every message
 * renders on its own. Deterministic: the first chunks of a growing text do not change once
 * the text has grown past them, which lets the renderer freeze earlier messages.
 */
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

interface FenceState {
  marker: string;
  info: string;
}

export function splitMessage(text: string, limit: number): string[] {
  if (limit < 32) throw new Error('message limit too small to split');
  if (text.length <= limit) return [text];
  const chunks: string[] = [];
  let rest = text;
  let open: FenceState | undefined;
  while (rest.length > 0) {
    const reopen = open ? `${open.marker}${open.info}\n` : '';
    if (reopen.length + rest.length <= limit) {
      chunks.push(reopen + rest);
      break;
    }
    // Reserve room to close a fence that may still be open at the cut.
    const room = limit - reopen.length - 4;
    const cut = findCut(rest, room);
    const body = rest.slice(0, cut);
    const state = fenceAfter(body, open);
    let chunk = reopen + body.replace(/\s+$/, '');
    if (state) chunk += `\n${state.marker}`;
    chunks.push(chunk);
    rest = dropSeparator(rest.slice(cut));
    open = state;
    if (state) {
      // A closing fence right at the start of the rest would leave an empty block: skip reopening.
      const firstLine = rest.split('\n', 1)[0] ?? '';
      const m = FENCE.exec(firstLine);
      if (m && m[1]!.startsWith(state.marker[0]!) && m[1]!.length >= state.marker.length && m[2]!.trim() === '') {
        rest = rest.slice(firstLine.length).replace(/^\n+/, '');
        open = undefined;
      }
    }
  }
  return chunks;
}

/** Drops the boundary the cut was made at: blank lines, one line break, or one space. */
function dropSeparator(s: string): string {
  if (s.startsWith('\n')) return s.replace(/^\n+/, '');
  if (s.startsWith(' ')) return s.slice(1);
  return s;
}

function findCut(s: string, room: number): number {
  const window = s.slice(0, room + 1);
  const min = Math.floor(room * 0.5);
  for (const sep of ['\n\n', '\n']) {
    const i = window.lastIndexOf(sep, room);
    if (i >= min) return i;
  }
  const space = window.lastIndexOf(' ', room);
  if (space >= min) return space;
  // No boundary: hard cut, but never between the halves of a surrogate pair.
  let cut = room;
  const code = s.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return cut;
}

/** The fence still open at the end of `body`, given the one open at its start. */
function fenceAfter(body: string, start: FenceState | undefined): FenceState | undefined {
  let open = start;
  for (const line of body.split('\n')) {
    const m = FENCE.exec(line);
    if (!m) continue;
    const marker = m[1]!;
    if (!open) open = { marker, info: m[2]!.trim() };
    else if (marker[0] === open.marker[0] && marker.length >= open.marker.length && m[2]!.trim() === '') open = undefined;
  }
  return open;
}
