import type Keyv from 'keyv';
import { RATEABLE_SOURCES, type FinalReply, type MessageRef } from '../../kernel/adapter.js';
import type { FeedbackEvent } from '../../kernel/types.js';
import type { Logger } from '../../kernel/logger.js';
import { describe } from '../../kernel/errors.js';
import type { Store } from '../../store/store.js';
import type { DiscordApi } from './api.js';

/**
 * Feedback on Discord: every answer gets a row of buttons (👍, 👎, Talk to a human); 👎 opens
 * a modal for an optional reason; 👍/👎 reactions on an answer count as votes. Component
 * clicks, modal submissions and reactions arrive as raw gateway packets (no cache or partials
 * needed) and become platform-neutral FeedbackEvents.
 */
const ActionRow = 1; // ComponentType.ActionRow
const Button = 2; // ComponentType.Button
const TextInput = 4; // ComponentType.TextInput
const ButtonStyle = { Primary: 1, Secondary: 2 } as const;
const TextInputParagraph = 2;
const InteractionType = { MessageComponent: 3, ModalSubmit: 5 } as const;
const Callback = { ChannelMessage: 4, DeferredUpdate: 6, Modal: 9 } as const; // InteractionResponseType
const REASON_MAX_CHARS = 500;
const ANSWER_LINK_TTL_MS = 30 * 86_400_000; // as long as answers are kept for feedback
export const CUSTOM_ID_PREFIX = 'parley:fb:'; // custom ids hold at most 100 characters; a snowflake answer id fits easily
const REASON_MODAL_PREFIX = 'parley:fbr:';
const REASON_INPUT = 'reason';
const UP = '👍';
const DOWN = '👎';

type Kind = FeedbackEvent['kind'];

export function answerButtons(answerId: string, o: { rate: boolean; handoff: boolean }): unknown[] {
  const buttons: unknown[] = [];
  if (o.rate) {
    buttons.push({ type: Button, style: ButtonStyle.Secondary, emoji: { name: UP }, custom_id: `${CUSTOM_ID_PREFIX}up:${answerId}` });
    buttons.push({ type: Button, style: ButtonStyle.Secondary, emoji: { name: DOWN }, custom_id: `${CUSTOM_ID_PREFIX}down:${answerId}` });
  }
  if (o.handoff) buttons.push({ type: Button, style: ButtonStyle.Primary, label: 'Talk to a human', custom_id: `${CUSTOM_ID_PREFIX}handoff:${answerId}` });
  return buttons.length ? [{ type: ActionRow, components: buttons }] : [];
}

export function resumeButton(answerId: string): unknown[] {
  return [
    {
      type: ActionRow,
      components: [{ type: Button, style: ButtonStyle.Secondary, label: 'Resume Parley', custom_id: `${CUSTOM_ID_PREFIX}resume:${answerId}` }],
    },
  ];
}

export function parseCustomId(id: string): { kind: Kind; answerId: string } | undefined {
  const m = /^parley:fb:(up|down|handoff|resume):(.+)$/.exec(id);
  return m ? { kind: m[1] as Kind, answerId: m[2]! } : undefined;
}

export function messageLink(guildId: string | undefined, channelId: string, messageId: string): string {
  // DMs have no guild: Discord links them under `@me`.
  return `https://discord.com/channels/${guildId ?? '@me'}/${channelId}/${messageId}`;
}

interface RawInteraction {
  id: string;
  token: string;
  type: number;
  guild_id?: string;
  channel_id: string;
  member?: { user: { id: string; username: string; global_name?: string | null; bot?: boolean }; nick?: string | null };
  user?: { id: string; username: string; global_name?: string | null; bot?: boolean };
  message?: { id: string };
  data?: { custom_id?: string; components?: { components?: { custom_id?: string; value?: string }[] }[] };
}

interface RawReaction {
  user_id: string;
  channel_id: string;
  message_id: string;
  guild_id?: string;
  emoji: { name: string | null };
  member?: { user?: { bot?: boolean } };
}

export class DiscordFeedback {
  /** Bot message id → the answer it belongs to, for reactions. */
  private readonly answerOf: Keyv<string>;

  constructor(
    private readonly d: {
      api: () => DiscordApi | undefined;
      store: Store;
      botId: () => string | undefined;
      applicationId: () => string | undefined;
      feedback?: (e: FeedbackEvent) => Promise<void>;
      log: Logger;
    },
  ) {
    this.answerOf = d.store.namespace<string>('discord:answer-of');
  }

  get enabled(): boolean {
    return this.d.feedback !== undefined;
  }

  async rememberAnswerMessages(answerId: string, messageIds: string[]): Promise<void> {
    try {
      await Promise.all(messageIds.map((id) => this.answerOf.set(id, answerId, ANSWER_LINK_TTL_MS)));
    } catch (err) {
      this.d.log.warn({ err: describe(err) }, 'could not remember which answer a message belongs to');
    }
  }

  /** Raw gateway packets: component clicks, modal submissions, reactions. */
  onRaw(packet: { t?: string | null; d?: unknown }): void {
    if (!this.d.feedback) return;
    if (packet.t === 'INTERACTION_CREATE') void this.onInteraction(packet.d as RawInteraction);
    else if (packet.t === 'MESSAGE_REACTION_ADD') void this.onReaction(packet.d as RawReaction);
  }

  private async onInteraction(i: RawInteraction): Promise<void> {
    const api = this.d.api();
    const customId = i.data?.custom_id ?? '';
    if (!api || (i.type !== InteractionType.MessageComponent && i.type !== InteractionType.ModalSubmit)) return;
    const person = i.member?.user ?? i.user;
    if (!person) return;
    const user = { id: person.id, name: i.member?.nick ?? person.global_name ?? person.username };
    try {
      if (i.type === InteractionType.ModalSubmit) {
        if (!customId.startsWith(REASON_MODAL_PREFIX)) return;
        const reason = i.data?.components
          ?.flatMap((r) => r.components ?? [])
          .find((c) => c.custom_id === REASON_INPUT)
          ?.value?.trim();
        await api.interactionResponse(i.id, i.token, { type: Callback.DeferredUpdate });
        if (!reason) return;
        const answerId = customId.slice(REASON_MODAL_PREFIX.length);
        await this.d.feedback!({
          platform: 'discord',
          answerId,
          kind: 'down',
          reason: reason.slice(0, REASON_MAX_CHARS),
          user,
          at: Date.now(),
          respond: this.responder(api, i, answerId, 'down'),
        });
        return;
      }
      const parsed = parseCustomId(customId);
      if (!parsed) return;
      // Discord drops interactions not answered within 3 s: acknowledge first (a 👎 opens the reason modal instead).
      if (parsed.kind === 'down') await api.interactionResponse(i.id, i.token, { type: Callback.Modal, data: reasonModal(parsed.answerId) });
      else await api.interactionResponse(i.id, i.token, { type: Callback.DeferredUpdate });
      await this.d.feedback!({
        platform: 'discord',
        answerId: parsed.answerId,
        kind: parsed.kind,
        user,
        at: Date.now(),
        link: i.message ? messageLink(i.guild_id, i.channel_id, i.message.id) : undefined,
        // The 👎 already counts; its modal's submission adds the reason and says thanks.
        respond: parsed.kind === 'down' ? async () => undefined : this.responder(api, i, parsed.answerId, parsed.kind),
      });
    } catch (err) {
      this.d.log.error({ err: describe(err), interactionId: i.id }, 'handling a feedback button failed');
    }
  }

  /** Private answers are ephemeral follow-ups; public ones are posted in the thread. */
  private responder(api: DiscordApi, i: RawInteraction, answerId: string, kind: Kind): NonNullable<FeedbackEvent['respond']> {
    const applicationId = this.d.applicationId();
    return async (text, o) => {
      if (o?.public) {
        // The handoff notice carries the way back.
        await api.announce(i.channel_id, text, { components: kind === 'handoff' ? resumeButton(answerId) : undefined });
        return;
      }
      if (!applicationId) return;
      await api.followUp({ applicationId, token: i.token, channelId: i.channel_id, content: text, final: true, ephemeral: true });
    };
  }

  private async onReaction(r: RawReaction): Promise<void> {
    const vote = r.emoji.name === UP ? 'up' : r.emoji.name === DOWN ? 'down' : undefined;
    if (!vote || r.user_id === this.d.botId() || r.member?.user?.bot) return;
    try {
      const answerId = await this.answerOf.get(r.message_id);
      if (!answerId) return;
      await this.d.feedback!({
        platform: 'discord',
        answerId,
        kind: vote,
        user: { id: r.user_id },
        at: Date.now(),
        viaReaction: true,
        link: messageLink(r.guild_id, r.channel_id, r.message_id),
      });
    } catch (err) {
      this.d.log.error({ err: describe(err) }, 'handling a reaction failed');
    }
  }
}

function reasonModal(answerId: string): Record<string, unknown> {
  return {
    custom_id: `${REASON_MODAL_PREFIX}${answerId}`,
    title: 'What was wrong with the answer?',
    components: [
      {
        type: ActionRow,
        components: [
          { type: TextInput, custom_id: REASON_INPUT, style: TextInputParagraph, label: 'Reason (optional)', required: false, max_length: REASON_MAX_CHARS },
        ],
      },
    ],
  };
}

/** What a reply surface needs to put the buttons on its answer. */
export interface AnswerActionsDeps {
  /** The answered message's id (the answer id feedback refers to). */
  answerId?: string;
  feedback?: DiscordFeedback;
  log: Logger;
}

/**
 * The buttons a finished answer gets: 👍/👎/"Talk to a human" (only "Talk to a human" on a
 * low-confidence "I don't know"); undefined when it gets none.
 */
export function answerActions(d: Omit<AnswerActionsDeps, 'log'>, final: FinalReply): unknown[] | undefined {
  if (!d.feedback?.enabled || !d.answerId || final.silent) return undefined;
  const rate = RATEABLE_SOURCES.has(final.source);
  if (!rate && !final.offerHandoff) return undefined;
  return answerButtons(d.answerId, { rate, handoff: true });
}

/**
 * Puts the answer's buttons (answerActions) on the last message of a finished answer, unless
 * they went out with its final text already (`sentWith`: that message's id), and remembers the
 * answer's messages so reactions on any of them count.
 */
export async function attachAnswerActions(
  d: AnswerActionsDeps,
  final: FinalReply,
  refs: MessageRef[],
  setComponents: (ref: MessageRef, components: unknown[]) => Promise<void>,
  sentWith?: string,
): Promise<void> {
  const last = refs[refs.length - 1];
  const buttons = answerActions(d, final);
  if (!last || !buttons || !d.answerId || !d.feedback) return;
  await d.feedback.rememberAnswerMessages(
    d.answerId,
    refs.map((r) => r.id),
  );
  if (sentWith === last.id) return;
  try {
    await setComponents(last, buttons);
  } catch (err) {
    d.log.warn({ err: describe(err) }, 'could not add the feedback buttons');
  }
}
