import type { TurnContext } from '../engine/pipeline.js';

/**
 * Every refusal says what happened and what to change; none is silent. Texts live here so
 * tests and docs can quote them.
 */
export const REPLIES = {
  help: (name = 'Parley') =>
    `Hi! I'm ${name}. Ask me a question in the same message, e.g. "@${name} how do I reset my password?". ` +
    'You can attach a text file as context. Commands: `/parley usage` (your usage and budget), `/parley forget` (delete your conversations).',
  tooLong: (chars: number, max: number) =>
    `Your question is ${chars.toLocaleString('en-US')} characters long; the limit here is ${max.toLocaleString('en-US')}. ` +
    'Please shorten it or split it into parts, or attach long text as a text file.',
  tooManyAttachments: (count: number, max: number) => `You attached ${count} files; I read at most ${max} per message. Please send fewer files at a time.`,
  attachmentTooLarge: (name: string, bytes: number, max: number) =>
    `I can't read "${name}": it is ${formatBytes(bytes)} and the limit is ${formatBytes(max)}. Please attach a smaller file or paste the relevant part.`,
  imageNotSupported: (name: string) =>
    `I can't look at "${name}": the model used here does not read images. Please describe it in words or paste the text it shows.`,
  attachmentUnsupported: (name: string, type: string) =>
    `I can't read "${name}" (${type || 'unknown type'}): I only read text files (and images, with a model that can see them). Please paste the relevant text or attach it as a .txt file.`,
  attachmentUnreadable: (name: string) => `I couldn't download "${name}". Please attach it again or paste its text.`,
  notText: (name: string) => `"${name}" does not look like text. Please attach a plain-text file or paste its content.`,
  redacted: (what: string) => `I removed ${what} from your message before sending it to the model; it is not stored.`,
  refusedSensitive: (what: string) =>
    `Your message seems to contain ${what}, so I did not send it to the model and did not store it. Please remove it and ask again.`,
  noAccess: 'Sorry, I am not available to you here. If you think you should have access, please ask a Parley administrator.',
  noDirectMessages: 'I do not answer direct messages here. Please mention me in a channel instead.',
  rateLimitedUser: (limit: number, windowSeconds: number, retryMs: number) =>
    `You have asked ${limit} questions in the last ${describeWindow(windowSeconds)}, which is the limit. Please try again in ${describeWait(retryMs)}.`,
  rateLimitedChannel: (limit: number, windowSeconds: number, retryMs: number) =>
    `This channel has asked ${limit} questions in the last ${describeWindow(windowSeconds)}, which is the limit. Please try again in ${describeWait(retryMs)}.`,
  budgetSpent: (what: string, usedOf: string, resetMs: number) =>
    `${what.charAt(0).toUpperCase()}${what.slice(1)} is used up (${usedOf}), so I can't ask the model right now. It resets in ${describeWait(resetMs)}; an administrator can raise it.`,
  privateNoteSent: 'I sent you a private note about this message.',
};

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function describeWindow(seconds: number): string {
  if (seconds === 60) return 'minute';
  if (seconds === 3600) return 'hour';
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

/** "42 seconds", "3 minutes", "2 hours 5 minutes" (rounded up: never tells someone to retry too early). */
export function describeWait(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.floor(m / 60);
  const rest = m % 60;
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'}${rest ? ` ${rest} minute${rest === 1 ? '' : 's'}` : ''}`;
  const days = Math.floor(h / 24);
  const hours = Math.ceil((m - days * 1440) / 60);
  return `${days} days${hours ? ` ${hours} hour${hours === 1 ? '' : 's'}` : ''}`;
}

/**
 * Ends the turn with `text` without the model, privately where that makes sense: in a channel
 * (not a DM, not an already-private reply) with a surface that can whisper, the details go to
 * the asker alone and the thread gets a one-line pointer. Falls back to a normal reply.
 */
export async function declinePrivately(ctx: TurnContext, text: string, source: string = 'declined'): Promise<void> {
  ctx.remember = false;
  const alreadyPrivate = ctx.message.ephemeral === true || ctx.message.trigger === 'direct_message';
  if (!alreadyPrivate && ctx.surface.notify) {
    try {
      await ctx.surface.notify(text);
      ctx.answer = { text: REPLIES.privateNoteSent, source };
      return;
    } catch (err) {
      ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'private note failed; replying in the thread');
    }
  }
  ctx.answer = { text, source };
}
