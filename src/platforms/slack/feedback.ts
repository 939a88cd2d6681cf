import type { App } from '@slack/bolt';
import { RATEABLE_SOURCES, type FinalReply, type MessageRef } from '../../kernel/adapter.js';
import type { FeedbackEvent } from '../../kernel/types.js';
import type { Logger } from '../../kernel/logger.js';
import { describe } from '../../kernel/errors.js';
import type { SlackApi } from './api.js';
import { messageMrkdwn } from './format.js';
import type { StreamTarget } from './stream.js';

/**
 * Feedback on Slack: after each answer the asker gets an ephemeral message in the thread with
 * Block Kit buttons (👍, 👎, Talk to a human); clicks arrive as `block_actions` and become
 * platform-neutral FeedbackEvents. The buttons are a message of their own so the answer's text
 * (streamed, possibly split over several messages) is never rewritten to add them.
 */
export const FEEDBACK_ACTION = /^parley:fb:(up|down|handoff|resume)$/;
const PROMPT_TEXT = 'Was this answer helpful?';

type Kind = FeedbackEvent['kind'];

function button(kind: Kind, answerId: string, text: string, style?: 'primary'): Record<string, unknown> {
  // action_id names the action (≤ 255 chars); value carries the answer id (≤ 2,000 chars).
  return { type: 'button', action_id: `parley:fb:${kind}`, value: answerId, text: { type: 'plain_text', text, emoji: true }, ...(style ? { style } : {}) };
}

export function feedbackBlocks(answerId: string, o: { rate: boolean }): unknown[] {
  const elements = o.rate ? [button('up', answerId, '👍'), button('down', answerId, '👎')] : [];
  elements.push(button('handoff', answerId, 'Talk to a human', 'primary'));
  return [
    { type: 'context', elements: [{ type: 'mrkdwn', text: o.rate ? PROMPT_TEXT : 'Need a person from the team?' }] },
    { type: 'actions', block_id: 'parley_feedback', elements },
  ];
}

export function resumeBlocks(text: string, answerId: string): unknown[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text: messageMrkdwn(text) } },
    { type: 'actions', block_id: 'parley_resume', elements: [button('resume', answerId, 'Resume Parley')] },
  ];
}

/** A link to a message (Slack redirects `slack.com/archives` to the workspace for members). */
export function messageLink(channel: string, ts: string, threadTs?: string): string {
  const base = `https://slack.com/archives/${channel}/p${ts.replace('.', '')}`;
  return threadTs && threadTs !== ts ? `${base}?thread_ts=${threadTs}&cid=${channel}` : base;
}

/**
 * Offers the buttons to the asker under a finished answer: an ephemeral message in the thread,
 * so the thread stays readable and only the person who asked rates the answer.
 */
export async function postFeedbackPrompt(
  api: SlackApi,
  target: StreamTarget,
  answerId: string,
  final: FinalReply,
  refs: MessageRef[],
  log: Logger,
): Promise<void> {
  if (final.silent || refs.length === 0) return;
  const rate = RATEABLE_SOURCES.has(final.source);
  if (!rate && !final.offerHandoff) return;
  try {
    await api.call(
      'chat.postEphemeral',
      () => ({
        channel: target.channel,
        user: target.recipientUser,
        thread_ts: target.threadTs,
        text: PROMPT_TEXT,
        blocks: feedbackBlocks(answerId, { rate }),
      }),
      { bucket: 'misc', scope: target.team },
    );
  } catch (err) {
    log.warn({ err: describe(err) }, 'could not add the feedback buttons');
  }
}

interface BlockActionBody {
  user: { id: string; name?: string; username?: string };
  channel?: { id: string };
  message?: { ts: string; thread_ts?: string };
  container?: { channel_id?: string; message_ts?: string; thread_ts?: string };
  actions: { action_id: string; value?: string }[];
}

const REASON_CALLBACK = 'parley_fb_reason';
const REASON_BLOCK = 'reason';
const REASON_INPUT = 'text';

/** The optional "what was wrong?" form a 👎 opens. */
function reasonModal(privateMetadata: string): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: REASON_CALLBACK,
    private_metadata: privateMetadata,
    title: { type: 'plain_text', text: 'What was wrong?' },
    submit: { type: 'plain_text', text: 'Send' },
    close: { type: 'plain_text', text: 'Skip' },
    blocks: [
      {
        type: 'input',
        block_id: REASON_BLOCK,
        optional: true,
        label: { type: 'plain_text', text: 'Tell us what was missing or wrong (optional)' },
        element: { type: 'plain_text_input', action_id: REASON_INPUT, multiline: true, max_length: 500 },
      },
    ],
  };
}

interface ViewSubmission {
  user: { id: string; name?: string; username?: string };
  view: { private_metadata?: string; state?: { values?: Record<string, Record<string, { value?: string | null }>> } };
}

/** Registers the button handler on the Bolt app. */
export function registerFeedbackActions(app: App, d: { api: SlackApi; feedback?: (e: FeedbackEvent) => Promise<void>; log: Logger }): void {
  if (!d.feedback) return;
  const feedback = d.feedback;
  app.view(REASON_CALLBACK, async ({ ack, body }) => {
    await ack();
    const b = body as unknown as ViewSubmission;
    const reason = b.view.state?.values?.[REASON_BLOCK]?.[REASON_INPUT]?.value?.trim();
    if (!reason) return;
    try {
      const meta = JSON.parse(b.view.private_metadata ?? '{}') as { answerId?: string; channel?: string; threadTs?: string };
      if (!meta.answerId) return;
      await feedback({
        platform: 'slack',
        answerId: meta.answerId,
        kind: 'down',
        reason,
        user: { id: b.user.id, name: b.user.name ?? b.user.username },
        at: Date.now(),
      });
    } catch (err) {
      d.log.error({ err: describe(err) }, 'handling a 👎 reason failed');
    }
  });
  app.action(FEEDBACK_ACTION, async ({ ack, body }) => {
    // Slack shows an error unless an action is acknowledged within 3 s.
    await ack();
    const b = body as unknown as BlockActionBody;
    const action = b.actions[0];
    const kind = action ? (FEEDBACK_ACTION.exec(action.action_id)?.[1] as Kind | undefined) : undefined;
    const channel = b.channel?.id ?? b.container?.channel_id;
    if (!action?.value || !kind || !channel) return;
    const threadTs = b.message?.thread_ts ?? b.container?.thread_ts;
    const respond: FeedbackEvent['respond'] = async (text, o) => {
      if (o?.public) {
        await d.api.call(
          'chat.postMessage',
          () => ({
            channel,
            thread_ts: threadTs,
            text: messageMrkdwn(text),
            ...(kind === 'handoff' ? { blocks: resumeBlocks(text, action.value!) } : {}),
            unfurl_links: false,
            unfurl_media: false,
          }),
          { bucket: 'post', scope: channel, priority: 'final' },
        );
        return;
      }
      await d.api.call('chat.postEphemeral', () => ({ channel, user: b.user.id, thread_ts: threadTs, text: messageMrkdwn(text) }), {
        bucket: 'misc',
        scope: channel,
      });
    };
    // 👎 asks for an optional reason in a modal; the vote counts at once, the reason replaces it when given.
    const triggerId = (body as unknown as { trigger_id?: string }).trigger_id;
    if (kind === 'down' && triggerId) {
      const meta = JSON.stringify({ answerId: action.value, channel, threadTs });
      await d.api
        .call('views.open', () => ({ trigger_id: triggerId, view: reasonModal(meta) }), { bucket: 'misc', scope: channel, priority: 'final' })
        .catch((err) => d.log.warn({ err: describe(err) }, 'could not open the 👎 reason form'));
    }
    try {
      await feedback({
        platform: 'slack',
        answerId: action.value,
        kind,
        user: { id: b.user.id, name: b.user.name ?? b.user.username },
        at: Date.now(),
        link: threadTs ? messageLink(channel, threadTs) : undefined,
        respond,
      });
    } catch (err) {
      d.log.error({ err: describe(err) }, 'handling a feedback button failed');
    }
  });
}
