import { BackgroundWork } from '../../kernel/background.js';
import type { Logger } from '../../kernel/logger.js';
import type { Store } from '../../store/store.js';
import { describe } from '../../kernel/errors.js';

/**
 * What the adapter must remember across messages (and restarts), in store namespaces:
 * - which conversation each message the bot sent belongs to, so a reply to any of them
 *   continues that conversation (Discord replies point at one message, not at a thread);
 * - which threads the bot opened or answered in, so messages there continue without a mention.
 *
 * A store outage only means a follow-up is not recognised (the user can mention the bot
 * again), so failures are logged and treated as "unknown" rather than failing the message.
 */
export interface ConversationRef {
  channel: string;
  thread: string;
}

const LINK_TTL_MS = 30 * 86_400_000; // as long as history is usually kept (HISTORY_TTL_DAYS default)

export class ConversationLinks {
  private readonly byMessage;
  private readonly threads;
  /** Posts whose message id is not known yet: a reply can arrive before the bot's own REST response. */
  /** Posts whose link is not recorded yet (their failures are the poster's to handle). */
  private readonly inFlight: BackgroundWork;

  constructor(
    store: Store,
    private readonly log: Logger,
  ) {
    this.byMessage = store.namespace<ConversationRef>('discord:bot-messages');
    this.threads = store.namespace<boolean>('discord:threads');
    this.inFlight = new BackgroundWork((err) => log.debug({ err: describe(err) }, 'a reply post failed (its poster reports it)'));
  }

  async recordBotMessage(messageId: string, conversation: ConversationRef): Promise<void> {
    try {
      await this.byMessage.set(messageId, conversation, LINK_TTL_MS);
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'could not remember which conversation a bot message belongs to');
    }
  }

  /** Tracks a post until its link is recorded, so `conversationOf` can wait for it. */
  track<T>(post: Promise<T>): Promise<T> {
    void this.inFlight.track(post);
    return post;
  }

  async conversationOf(messageId: string): Promise<ConversationRef | undefined> {
    try {
      const known = await this.byMessage.get(messageId);
      if (known || this.inFlight.size === 0) return known;
      await this.inFlight.settled();
      return await this.byMessage.get(messageId);
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'could not look up a replied-to message');
      return undefined;
    }
  }

  async markThread(threadId: string): Promise<void> {
    try {
      await this.threads.set(threadId, true, LINK_TTL_MS);
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'could not remember a thread the bot answers in');
    }
  }

  async isBotThread(threadId: string): Promise<boolean> {
    try {
      return (await this.threads.get(threadId)) === true;
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'could not look up a thread');
      return false;
    }
  }
}
