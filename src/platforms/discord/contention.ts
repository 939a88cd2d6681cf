/**
 * Which channels are busy answering: a channel's message writes share one budget (about 5 per
 * 5 s), so a second reply streaming there would wait behind the first one's edits for its first
 * words. In `auto` reply mode a mention in a busy channel is answered in a thread of its own
 * (each thread has its own budget), a mention in a quiet channel as a plain reply.
 */

/** A reply that never completes (its turn failed) stops counting after this long. */
const OPEN_REPLY_MAX_MS = 2 * 60_000;

export class ChannelActivity {
  private readonly open = new Map<string, Map<number, number>>();
  private next = 0;

  /** Whether a reply is still being written in `channelId`. */
  busy(channelId: string): boolean {
    const replies = this.open.get(channelId);
    if (!replies) return false;
    const now = Date.now();
    for (const [id, at] of replies) if (now - at > OPEN_REPLY_MAX_MS) replies.delete(id);
    if (replies.size === 0) this.open.delete(channelId);
    return replies.size > 0;
  }

  /** Counts a reply being written in `channelId`; the returned function ends it (idempotent). */
  begin(channelId: string): () => void {
    const id = this.next++;
    let replies = this.open.get(channelId);
    if (!replies) this.open.set(channelId, (replies = new Map()));
    replies.set(id, Date.now());
    return () => {
      const r = this.open.get(channelId);
      r?.delete(id);
      if (r?.size === 0) this.open.delete(channelId);
    };
  }
}
