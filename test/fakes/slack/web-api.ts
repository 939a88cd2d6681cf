import { MAX_STREAM_CHUNK_CHARS, MAX_TEXT_CHARS, type Workspace } from './model.js';

/**
 * The Web API methods the adapter uses, answered the way Slack answers them (the `ok`/`error`
 * envelope, the same error strings). Rate limits and injected failures are applied before a
 * method runs, in fake-slack.ts.
 */

export type Params = Record<string, any>;
export type MethodResult = Record<string, unknown> & { ok: boolean; error?: string };

export interface StreamSwitches {
  /** `refuse`: chat.startStream answers `feature_not_enabled` (the app's streaming is off). */
  mode: 'on' | 'refuse' | 'unknown_method';
  /** After this many successful appends the stream expires (`message_not_in_streaming_state`). */
  expireAfterAppends?: number;
}

export interface Recorded {
  ephemerals: Params[];
  statuses: Params[];
  suggestedPrompts: Params[];
  reactions: Params[];
  /** Modals opened with views.open (`view` as sent: a JSON string or an object). */
  views: Params[];
}

const fail = (error: string): MethodResult => ({ ok: false, error });

/** Web API fields that carry JSON arrive as strings in form-encoded requests. */
function json<T>(v: unknown): T | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

/** Text of `markdown_text` or `chunks` (markdown_text chunks only). */
function streamText(p: Params): string {
  let text = typeof p.markdown_text === 'string' ? p.markdown_text : '';
  const chunks = json<{ type: string; text?: string }[]>(p.chunks) ?? [];
  for (const c of chunks) if (c.type === 'markdown_text' && typeof c.text === 'string') text += c.text;
  return text;
}

export function runMethod(ws: Workspace, method: string, p: Params, stream: StreamSwitches, rec: Recorded): MethodResult {
  switch (method) {
    case 'auth.test':
      return {
        ok: true,
        url: 'https://fake.slack.test/',
        team: 'Fake Team',
        user: 'parley',
        team_id: ws.teamId,
        user_id: ws.botUserId,
        bot_id: ws.botId,
        is_enterprise_install: false,
      };

    case 'chat.postMessage': {
      const text = p.text ?? p.markdown_text;
      if (!p.channel) return fail('channel_not_found');
      if (typeof text !== 'string' || text === '') return fail('no_text');
      if (text.length > MAX_TEXT_CHARS) return fail('msg_too_long');
      const m = ws.post(p.channel, ws.botUserId, text, { thread_ts: p.thread_ts || undefined, format: p.text === undefined ? 'markdown' : 'mrkdwn' });
      return {
        ok: true,
        channel: m.channel,
        ts: m.ts,
        message: { type: 'message', user: m.user, text: m.text, ts: m.ts, thread_ts: m.thread_ts, bot_id: ws.botId },
      };
    }

    case 'chat.update': {
      const m = ws.find(p.channel, p.ts);
      if (!m) return fail('message_not_found');
      if (m.streaming) return fail('streaming_state_conflict');
      const text = p.text ?? p.markdown_text;
      if (typeof text !== 'string' || text === '') return fail('no_text');
      if (text.length > MAX_TEXT_CHARS) return fail('msg_too_long');
      m.format = p.text === undefined ? 'markdown' : 'mrkdwn';
      ws.setText(m, text);
      return { ok: true, channel: m.channel, ts: m.ts, text: m.text };
    }

    case 'chat.delete': {
      const m = ws.find(p.channel, p.ts);
      if (!m) return fail('message_not_found');
      m.deleted = true;
      return { ok: true, channel: m.channel, ts: m.ts };
    }

    case 'chat.postEphemeral': {
      if (!p.user) return fail('user_not_in_channel');
      if (typeof p.text === 'string' && p.text.length > MAX_TEXT_CHARS) return fail('msg_too_long');
      rec.ephemerals.push(p);
      return { ok: true, message_ts: ws.nextTs() };
    }

    case 'chat.startStream': {
      if (stream.mode === 'refuse') return fail('feature_not_enabled');
      if (stream.mode === 'unknown_method') return fail('unknown_method');
      if (!p.channel || !p.thread_ts) return fail('invalid_arguments');
      // Outside DMs Slack needs to know who the streamed answer is for.
      if (!String(p.channel).startsWith('D') && (!p.recipient_team_id || !p.recipient_user_id)) return fail('invalid_arguments');
      const text = streamText(p);
      const m = ws.post(p.channel, ws.botUserId, text, { thread_ts: p.thread_ts, format: 'markdown', streaming: true });
      m.recipient = { team: p.recipient_team_id, user: p.recipient_user_id };
      return { ok: true, channel: m.channel, ts: m.ts };
    }

    case 'chat.appendStream': {
      const m = ws.find(p.channel, p.ts);
      if (!m) return fail('message_not_found');
      if (!m.streaming) return fail('message_not_in_streaming_state');
      if (stream.expireAfterAppends !== undefined && m.appendCount >= stream.expireAfterAppends) {
        // Slack ends streams left open too long; later calls see a normal message.
        m.streaming = false;
        return fail('message_not_in_streaming_state');
      }
      const text = streamText(p);
      if (!text) return fail('invalid_arguments');
      if (text.length > MAX_STREAM_CHUNK_CHARS) return fail('msg_too_long');
      m.appendCount++;
      ws.setText(m, m.text + text);
      return { ok: true, channel: m.channel, ts: m.ts };
    }

    case 'chat.stopStream': {
      const m = ws.find(p.channel, p.ts);
      if (!m) return fail('message_not_found');
      if (!m.streaming) return fail('message_not_in_streaming_state');
      const text = streamText(p);
      if (text) ws.setText(m, m.text + text);
      m.streaming = false;
      return { ok: true, channel: m.channel, ts: m.ts, message: { text: m.text } };
    }

    case 'users.info': {
      const u = ws.users.get(p.user);
      if (!u) return fail('user_not_found');
      return {
        ok: true,
        user: {
          id: u.id,
          name: u.name,
          real_name: u.real_name,
          is_bot: u.is_bot ?? false,
          profile: { display_name: u.display_name ?? '', real_name: u.real_name ?? '' },
        },
      };
    }

    case 'conversations.info': {
      const c = ws.channels.get(p.channel);
      if (!c) return fail('channel_not_found');
      return { ok: true, channel: { id: c.id, name: c.name, is_im: c.is_im ?? false } };
    }

    case 'assistant.threads.setStatus':
      if (!p.channel_id || !p.thread_ts) return fail('invalid_arguments');
      rec.statuses.push(p);
      return { ok: true };

    case 'assistant.threads.setSuggestedPrompts': {
      const prompts = json<unknown[]>(p.prompts);
      // thread_ts: assistant-view apps only; agent-view apps set the prompts for the DM without one.
      if (!p.channel_id || !Array.isArray(prompts)) return fail('invalid_arguments');
      rec.suggestedPrompts.push({ ...p, prompts });
      return { ok: true };
    }

    case 'reactions.add':
      rec.reactions.push(p);
      return { ok: true };

    case 'views.open': {
      if (!p.trigger_id) return fail('invalid_arguments');
      rec.views.push(p);
      return { ok: true, view: { id: `V${String(rec.views.length).padStart(8, '0')}` } };
    }

    default:
      return fail('unknown_method');
  }
}
