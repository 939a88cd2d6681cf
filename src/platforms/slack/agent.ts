import type { App } from '@slack/bolt';
import type { Logger } from '../../kernel/logger.js';
import { slackErrorCode, type SlackApi } from './api.js';

/**
 * Slack's two AI-app experiences (docs.slack.dev/ai/developing-agents, …/migrating-to-agent-messaging):
 *
 * - Agent view (`features.agent_view`, July 2026; what slack/manifest.yaml sets up for new apps):
 *   the conversation lives in the app's Messages tab, each top-level DM message is a thread root
 *   (Parley already answers a DM in the message's thread). A user opening that tab is an
 *   `app_home_opened` with `tab: "messages"`; suggested prompts are set for the DM without a
 *   `thread_ts` (with one, Slack ignores the call for an agent app). `app_context_changed` says what
 *   the user is viewing; with it subscribed, Slack adds the same `app_context` to `message.im`.
 * - Assistant view (`features.assistant_view`, apps created before; Slack will deprecate it): the
 *   split-pane thread starts with `assistant_thread_started`; suggested prompts go to that thread.
 *
 * Both are handled, so an app keeps working whichever manifest it was created from.
 */

export const AGENT_VIEW_EVENTS = ['app_home_opened', 'app_context_changed'] as const;
export const ASSISTANT_VIEW_EVENTS = ['assistant_thread_started'] as const;

/** `app_home_opened`'s tab for the app's DM, where agent-view conversations happen. */
const MESSAGES_TAB = 'messages';

export const SUGGESTED_PROMPTS = [
  { title: 'Ask a question', message: 'What can you help me with?' },
  { title: 'Summarise', message: 'Summarise the key points of the following text:' },
];

interface AssistantThreadEvent {
  assistant_thread?: { user_id?: string; channel_id?: string; thread_ts?: string };
}

interface AppHomeOpenedEvent {
  user?: string;
  channel?: string;
  tab?: string;
}

interface AppContextChangedEvent {
  user?: string;
  context?: { entities?: { type?: string }[] };
}

export function registerAgentEvents(app: App, o: { api: SlackApi; log: Logger; team: () => string }): void {
  const setPrompts = async (params: Record<string, unknown>, view: 'agent' | 'assistant') => {
    try {
      await o.api.call('assistant.threads.setSuggestedPrompts', () => ({ ...params, prompts: SUGGESTED_PROMPTS }), { bucket: 'misc', scope: o.team() });
    } catch (err) {
      o.log.warn({ code: slackErrorCode(err), view }, 'slack setSuggestedPrompts failed');
    }
  };

  const [homeOpened, contextChanged] = AGENT_VIEW_EVENTS;
  app.event(homeOpened, async ({ event }) => {
    const e = event as unknown as AppHomeOpenedEvent;
    if (e.tab !== MESSAGES_TAB || !e.channel) return;
    await setPrompts({ channel_id: e.channel }, 'agent');
  });
  // Parley answers from the message itself; the view is only logged (types, never ids or text).
  app.event(contextChanged, async ({ event }) => {
    const e = event as unknown as AppContextChangedEvent;
    o.log.debug({ entities: (e.context?.entities ?? []).map((x) => x.type) }, 'slack app context changed');
  });

  const [threadStarted] = ASSISTANT_VIEW_EVENTS;
  app.event(threadStarted, async ({ event }) => {
    const t = (event as unknown as AssistantThreadEvent).assistant_thread;
    if (!t?.channel_id || !t.thread_ts) return;
    await setPrompts({ channel_id: t.channel_id, thread_ts: t.thread_ts }, 'assistant');
  });
}
