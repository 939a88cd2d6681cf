import { BackgroundWork } from '../kernel/background.js';
import type Keyv from 'keyv';
import type { PlatformAdapter } from '../kernel/adapter.js';
import type { Logger } from '../kernel/logger.js';
import type { Profile } from '../config/profile.js';
import type { ConversationKey, IncomingMessage, Turn } from '../kernel/types.js';
import { describe } from '../kernel/errors.js';
import type { ChatModelClient } from '../llm/client.js';
import type { HistoryStore } from '../store/history.js';
import type { Store } from '../store/store.js';
import type { AnswerRecord } from '../analytics/answers.js';
import type { HandoffSettings } from '../config/handoff.js';
import { postWebhook } from './webhook.js';

/**
 * "Talk to a human": marks the thread handed off (the bot stays quiet there until someone
 * says `resume`), posts to the profile's escalation channel with a model-written summary
 * (the transcript when the model is unavailable), pinging only the configured group or role,
 * and optionally POSTs the same to a signed webhook for ticket systems.
 */
const HANDOFF_TTL_MS = 30 * 86_400_000; // a handed-off thread nobody resumes goes back to normal after a month
const SUMMARY_TIMEOUT_MS = 20_000; // the person waiting for a human should not wait for a slow model
const SUMMARY_MAX_TOKENS = 300;
const TRANSCRIPT_MAX_CHARS = 1_500; // keeps the announcement under Discord's 2,000 and Slack's practical limits
const SUMMARY_PROMPT =
  'You summarise a support conversation for the human agent taking it over. In at most 4 short sentences: what the user needs, ' +
  'what was already tried or answered, and what is still open. Plain text, no greeting.';

export const HANDOFF_TEXTS = {
  requested: "I've asked a human to join this thread. I'll stay quiet here until someone says `resume`.",
  already: 'A human has already been asked to join this thread.',
  noDestination: "Handing off isn't set up for this channel yet, so I couldn't reach a human. Please contact the support team directly.",
  notDelivered: "I couldn't reach the support team just now. Please try again in a moment, or contact them directly.",
  resumed: "I'm back. Ask me anything.",
  quietNote: 'This thread was handed to a human. Say `resume` here to bring me back.',
  notHandedOff: "This thread isn't handed off; I'm answering here.",
};

/** "resume", "@Parley resume", "/resume", "resume please" (the bot's mention is already stripped). */
const RESUME = /^\s*\/?(?:resume|come back|bot,? resume)\b[\s.!]*(?:please)?[\s.!]*$/i;

export function isResume(text: string): boolean {
  return RESUME.test(text);
}

export interface HandoffRecord {
  at: number;
  by: string;
  answerId: string;
}

export interface HandoffDeps {
  store: Store;
  history: HistoryStore;
  llm?: ChatModelClient;
  /** The running adapters (the destination may be on another platform than the thread). */
  adapters: () => PlatformAdapter[];
  /** A profile by name, with its `handoff` settings (or the environment's defaults). */
  profile: (name: string) => Profile | undefined;
  defaults?: HandoffSettings;
  log: Logger;
  webhook?: { attempts?: number; backoffBaseMs?: number };
}

export type HandoffOutcome = 'handed_off' | 'already' | 'no_destination' | 'not_delivered';

export class HandoffService {
  private readonly state: Keyv<HandoffRecord>;
  private readonly pending: BackgroundWork;

  constructor(private readonly d: HandoffDeps) {
    this.state = d.store.namespace<HandoffRecord>('handoffs');
    this.pending = new BackgroundWork((err) => d.log.warn({ err: describe(err) }, 'a handoff webhook delivery failed'));
  }

  settingsFor(profile: string): HandoffSettings | undefined {
    return this.d.profile(profile)?.handoff ?? this.d.defaults;
  }

  stateOf(conversation: string): Promise<HandoffRecord | undefined> {
    return this.state.get(conversation);
  }

  /** For the engine's `quiet` gate: a message in a handed-off thread that is neither `resume` nor a slash command. */
  readonly isQuiet = async (message: IncomingMessage, conversation: string): Promise<boolean> => {
    if (message.trigger === 'slash_command' || isResume(message.text)) return false;
    const handedOff = (await this.state.get(conversation)) !== undefined;
    if (!handedOff) this.seenAnswering.add(message);
    return handedOff;
  };

  /**
   * Messages the quiet gate found in a thread that is not handed off: the middleware of the same
   * turn, a moment later, need not read the state again (one store read per turn, not two).
   */
  private readonly seenAnswering = new WeakSet<IncomingMessage>();

  /** Whether the quiet gate of this turn already found its thread not handed off. */
  answeringChecked(message: IncomingMessage): boolean {
    return this.seenAnswering.has(message);
  }

  async resume(conversation: string): Promise<boolean> {
    return this.state.delete(conversation);
  }

  /** Hands `answer`'s thread to a human on behalf of `by`; `link` points at the thread. */
  async start(answer: AnswerRecord, by: { id: string; name?: string }, link?: string, reason?: string): Promise<HandoffOutcome> {
    const settings = this.settingsFor(answer.profile);
    if (!settings?.destination && !settings?.webhook) return 'no_destination';
    // Claimed once across instances: two clicks (or two instances) never announce twice.
    const owner = `${by.id}:${Date.now()}`;
    const claim = `handoff:${answer.conversation}`;
    if (!(await this.d.store.claim(claim, 60_000, owner))) return 'already';
    try {
      if (await this.state.get(answer.conversation)) return 'already';
      await this.state.set(answer.conversation, { at: Date.now(), by: by.id, answerId: answer.answerId }, HANDOFF_TTL_MS);
    } finally {
      await this.d.store.release(claim, owner);
    }

    const turns = await this.d.history.load(answer.conversation as ConversationKey).catch(() => [] as Turn[]);
    const transcript = transcriptOf(turns, answer);
    const summary = await this.summarize(answer.profile, transcript);
    const text = announcement({ answer, by, link, reason, summary: summary ?? clip(transcript, TRANSCRIPT_MAX_CHARS), bySummary: summary !== undefined });
    let announced = false;
    if (settings.destination) {
      const adapter = this.d.adapters().find((a) => a.platform === settings.destination!.platform);
      if (!adapter?.announce) this.d.log.error({ platform: settings.destination.platform }, 'handoff destination platform is not running or cannot post');
      else
        announced = await adapter.announce(settings.destination.channel, text, { ping: settings.ping }).then(
          () => true,
          (err) => {
            this.d.log.error({ err: describe(err), platform: settings.destination!.platform }, 'posting the handoff failed');
            return false;
          },
        );
    }
    if (!announced && !settings.webhook) {
      // Nobody was told: the thread is not handed off, and the asker hears so instead of waiting.
      await this.state.delete(answer.conversation);
      return 'not_delivered';
    }
    if (settings.webhook) {
      const payload = {
        type: 'parley.handoff',
        at: new Date().toISOString(),
        profile: answer.profile,
        platform: answer.platform,
        conversation: answer.conversation,
        channel: answer.channel,
        link,
        asker: answer.asker,
        requestedBy: by,
        reason,
        summary: summary ?? null,
        transcript: turns.map((t) => ({ role: t.role, content: t.content, at: new Date(t.at).toISOString(), user: t.user })),
      };
      // In the background: a ticket system being down must not delay the person waiting.
      this.track(
        postWebhook(settings.webhook.url, payload, settings.webhook.secret, { ...this.d.webhook, log: this.d.log.child({ component: 'handoff-webhook' }) }),
      );
    }
    return 'handed_off';
  }

  /** Resolves when background webhook deliveries have finished (tests, shutdown). */
  async idle(): Promise<void> {
    await this.pending.idle();
  }

  private track(p: Promise<unknown>): void {
    void this.pending.track(p);
  }

  private async summarize(profileName: string, transcript: string): Promise<string | undefined> {
    const profile = this.d.profile(profileName);
    if (!this.d.llm || !profile?.model || !transcript) return undefined;
    let text = '';
    try {
      for await (const ev of this.d.llm.stream({
        messages: [
          { role: 'system', content: SUMMARY_PROMPT },
          { role: 'user', content: transcript },
        ],
        model: profile.model,
        fallbackModels: profile.fallbackModels,
        maxTokens: SUMMARY_MAX_TOKENS,
        signal: AbortSignal.timeout(SUMMARY_TIMEOUT_MS),
      })) {
        if (ev.type === 'delta') text += ev.text;
      }
      return text.trim() || undefined;
    } catch (err) {
      this.d.log.warn({ err: describe(err) }, 'handoff summary failed; sending the transcript');
      return undefined;
    }
  }
}

function transcriptOf(turns: Turn[], answer: AnswerRecord): string {
  const lines = turns.map((t) => `${t.role === 'user' ? 'User' : 'Parley'}: ${t.content}`);
  return lines.length ? lines.join('\n') : `User: ${answer.question}`;
}

function clip(s: string, max: number): string {
  // The end of a conversation matters most to whoever takes over.
  return s.length <= max ? s : `…${s.slice(s.length - max + 1)}`;
}

/** The escalation message. Names are plain text: mentions stay inert, only the configured ping notifies. */
export function announcement(o: {
  answer: AnswerRecord;
  by: { id: string; name?: string };
  link?: string;
  reason?: string;
  summary: string;
  bySummary: boolean;
}): string {
  const who = (u: { id: string; name?: string }) => (u.name ? `${u.name} (${o.answer.platform} user ${u.id})` : `${o.answer.platform} user ${u.id}`);
  const lines = [`🙋 Handoff requested (profile ${o.answer.profile})`, `Asker: ${who(o.answer.asker)}`];
  if (o.by.id !== o.answer.asker.id) lines.push(`Requested by: ${who(o.by)}`);
  lines.push(`Thread: ${o.link ?? o.answer.conversation}`);
  if (o.reason) lines.push(`Reason: ${o.reason}`);
  lines.push(o.bySummary ? `Summary: ${o.summary}` : `Transcript (the model was unavailable for a summary):\n${o.summary}`);
  return lines.join('\n');
}
