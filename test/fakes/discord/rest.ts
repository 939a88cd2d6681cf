import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeDiscord } from './index.js';
import { MESSAGE_CONTENT_INTENT } from './gateway.js';
import {
  ChannelType,
  INVALID_FORM_BODY,
  INVALID_WEBHOOK_TOKEN,
  MESSAGE_MAX_CHARS,
  UNKNOWN_MESSAGE,
  messageJson,
  snowflake,
  type FakeChannel,
  type FakeCommand,
  type FakeInteraction,
  type FakeMessage,
} from './model.js';

/**
 * The fake's REST API (`/api/v10/...`): routes discord.js and the adapter call, with the
 * platform's failure modes (per-channel 429 with `retry_after`, 50035 past 2,000 characters,
 * 50027 once an interaction token expired, 401 without the bot token).
 */
export interface RecordedRestRequest {
  method: string;
  /** Path after `/api/v10`, e.g. `/channels/123/messages`. */
  path: string;
  body: any;
  at: number;
  status?: number;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export async function handleRest(fake: FakeDiscord, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  let body: any = undefined;
  if (raw) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
  const rec: RecordedRestRequest = { method: req.method ?? 'GET', path, body, at: Date.now() };
  fake.requests.push(rec);
  if (body && typeof body === 'object' && 'allowed_mentions' in body) fake.allowedMentions.push({ path, allowed_mentions: body.allowed_mentions });
  if (body && typeof body === 'object' && body.data && typeof body.data === 'object' && 'allowed_mentions' in body.data)
    fake.allowedMentions.push({ path, allowed_mentions: body.data.allowed_mentions });

  let reply: Reply;
  try {
    reply = route(fake, rec, req.headers.authorization);
  } catch (err) {
    reply = { status: 500, body: { message: String(err), code: 0 } };
  }
  rec.status = reply.status;
  // A 204 must not carry a JSON content-type (discord.js would try to parse an empty body).
  if (reply.status === 204) res.writeHead(204, reply.headers ?? {}).end();
  else res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(JSON.stringify(reply.body ?? {}));
  fake.emitRequest(rec);
}

function route(fake: FakeDiscord, rec: RecordedRestRequest, authorization: string | undefined): Reply {
  const { method, path, body } = rec;
  const seg = path.split('/').filter(Boolean);
  // Webhook (interaction) routes are authenticated by their token in the path, not the bot token.
  const isWebhook = seg[0] === 'webhooks' || seg[0] === 'interactions';
  if (!isWebhook && authorization !== `Bot ${fake.token}`) return { status: 401, body: { message: '401: Unauthorized', code: 0 } };

  if (method === 'GET' && path === '/gateway/bot')
    return ok({ url: fake.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 } });
  if (method === 'GET' && path === '/users/@me') return ok(fake.botUser);
  if (method === 'GET' && path === '/applications/@me')
    return ok({
      id: fake.applicationId,
      name: fake.botUser.username,
      flags: applicationFlags(fake),
      bot_public: true,
      owner: fake.users.get(fake.defaultUser.id),
    });

  if (seg[0] === 'channels' && seg[1]) return channelRoute(fake, method, seg.slice(1), body);
  if (seg[0] === 'applications' && seg[1] === fake.applicationId) return commandRoute(fake, method, seg.slice(2), body);
  if (seg[0] === 'interactions' && seg[3] === 'callback') return interactionCallback(fake, seg[1]!, seg[2]!, body);
  if (seg[0] === 'webhooks' && seg[1] === fake.applicationId && seg[2]) return webhookRoute(fake, method, seg[2], seg.slice(3), body);
  return { status: 404, body: { message: '404: Not Found', code: 0 } };
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function tooLong(content: unknown): Reply | undefined {
  if (typeof content === 'string' && content.length > MESSAGE_MAX_CHARS)
    return {
      status: 400,
      body: {
        message: 'Invalid Form Body',
        code: INVALID_FORM_BODY,
        errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${MESSAGE_MAX_CHARS} or fewer in length.` }] } },
      },
    };
  return undefined;
}

function channelRoute(fake: FakeDiscord, method: string, seg: string[], body: any): Reply {
  const channelId = seg[0]!;
  const channel = fake.channels.get(channelId);
  if (!channel) return { status: 404, body: { message: 'Unknown Channel', code: 10003 } };
  const limited = fake.takeRateLimit(channelId);
  if (limited !== undefined) {
    // Discord's shape: a Retry-After header in seconds and `retry_after` in the body; the global
    // limit adds X-RateLimit-Global and says so in the body.
    const seconds = limited.retryAfterMs / 1000;
    return {
      status: 429,
      headers: {
        'retry-after': String(seconds),
        'x-ratelimit-scope': limited.global ? 'global' : 'user',
        ...(limited.global ? { 'x-ratelimit-global': 'true' } : {}),
      },
      body: { message: 'You are being rate limited.', retry_after: seconds, global: limited.global, code: 0 },
    };
  }
  if (seg[1] === 'typing' && method === 'POST') {
    fake.typing.push({ channelId, at: Date.now() });
    return { status: 204 };
  }
  if (seg[1] !== 'messages') return { status: 404, body: { message: '404: Not Found', code: 0 } };
  // Discord's per-route buckets: creations and edits per channel, thread creation per guild.
  const route =
    seg.length === 2 && method === 'POST'
      ? 'createMessage'
      : seg.length === 3 && method !== 'GET'
        ? 'editMessage'
        : seg[3] === 'threads' && method === 'POST'
          ? 'createThread'
          : undefined;
  if (route) {
    const answer = fake.routeLimits.take(route, route === 'createThread' ? (channel.guild_id ?? channelId) : channelId);
    if (answer?.limited)
      return {
        status: 429,
        headers: answer.headers,
        body: { message: 'You are being rate limited.', retry_after: answer.retryAfterMs / 1000, global: false, code: 0 },
      };
    if (answer) return withHeaders(channelMessageRoute(fake, method, seg, body, channelId, channel), answer.headers);
  }
  return channelMessageRoute(fake, method, seg, body, channelId, channel);
}

function withHeaders(reply: Reply, headers: Record<string, string>): Reply {
  return { ...reply, headers: { ...headers, ...reply.headers } };
}

function channelMessageRoute(fake: FakeDiscord, method: string, seg: string[], body: any, channelId: string, channel: FakeChannel): Reply {
  if (seg.length === 2 && method === 'POST') {
    const bad = tooLong(body?.content);
    if (bad) return bad;
    const m = fake.addMessage({
      channelId,
      author: fake.botUser,
      content: body?.content ?? '',
      allowedMentions: body?.allowed_mentions,
      replyTo: body?.message_reference?.message_id,
      flags: body?.flags ?? 0,
      components: body?.components,
    });
    return ok(messageJson(m));
  }
  const message = fake.messages.get(seg[2]!);
  if (!message || message.deleted || message.channel_id !== channelId) return { status: 404, body: { message: 'Unknown Message', code: UNKNOWN_MESSAGE } };
  if (seg.length === 3 && method === 'GET') return ok(messageJson(message));
  if (seg.length === 3 && method === 'PATCH') {
    if (message.author.id !== fake.botUser.id) return { status: 403, body: { message: 'Cannot edit a message authored by another user', code: 50005 } };
    const bad = tooLong(body?.content);
    if (bad) return bad;
    fake.editMessage(message, body?.content, body?.components);
    return ok(messageJson(message));
  }
  if (seg.length === 3 && method === 'DELETE') {
    message.deleted = true;
    return { status: 204 };
  }
  if (seg[3] === 'threads' && method === 'POST') {
    if (!fake.allowThreads) return { status: 403, body: { message: 'Missing Permissions', code: 50013 } };
    if (message.thread_created) return { status: 400, body: { message: 'A thread has already been created for this message', code: 160004 } };
    if (channel.type !== ChannelType.GuildText) return { status: 400, body: { message: 'Cannot execute action on this channel type', code: 50024 } };
    // A thread started from a message takes the message's id.
    const thread = fake.addThread({ id: message.id, parentId: channelId, name: String(body?.name ?? 'thread') });
    message.thread_created = true;
    return { status: 201, body: thread };
  }
  return { status: 404, body: { message: '404: Not Found', code: 0 } };
}

function commandRoute(fake: FakeDiscord, method: string, seg: string[], body: any): Reply {
  // seg: ['commands'] | ['commands', id] | ['guilds', g, 'commands'] | ['guilds', g, 'commands', id]
  const guildId = seg[0] === 'guilds' ? seg[1] : undefined;
  const rest = guildId ? seg.slice(2) : seg;
  if (rest[0] !== 'commands') return { status: 404, body: { message: '404: Not Found', code: 0 } };
  const list = fake.commandList(guildId);
  const build = (c: any, existing?: FakeCommand): FakeCommand => ({
    type: 1,
    ...c,
    id: existing?.id ?? snowflake(),
    application_id: fake.applicationId,
    ...(guildId ? { guild_id: guildId } : {}),
    version: snowflake(),
  });
  if (rest.length === 1 && method === 'GET') return ok(list);
  if (rest.length === 1 && method === 'PUT') {
    const next = (body as any[]).map((c) =>
      build(
        c,
        list.find((e) => e.name === c.name),
      ),
    );
    list.splice(0, list.length, ...next);
    return ok(next);
  }
  if (rest.length === 1 && method === 'POST') {
    // POST upserts by name.
    const i = list.findIndex((e) => e.name === body.name);
    const cmd = build(body, list[i]);
    if (i >= 0) list[i] = cmd;
    else list.push(cmd);
    return { status: i >= 0 ? 200 : 201, body: cmd };
  }
  if (rest.length === 2 && method === 'DELETE') {
    const i = list.findIndex((e) => e.id === rest[1]);
    if (i >= 0) list.splice(i, 1);
    return { status: 204 };
  }
  return { status: 404, body: { message: '404: Not Found', code: 0 } };
}

function interactionCallback(fake: FakeDiscord, id: string, token: string, body: any): Reply {
  const it = fake.interactions.get(id);
  if (!it || it.token !== token) return { status: 404, body: { message: 'Unknown interaction', code: 10062 } };
  if (it.callback) return { status: 400, body: { message: 'Interaction has already been acknowledged.', code: 40060 } };
  if (Date.now() - it.created_at > fake.interactionAckWindowMs) return { status: 404, body: { message: 'Unknown interaction', code: 10062 } };
  const flags = body?.data?.flags ?? 0;
  it.callback = { type: body?.type, at: Date.now(), flags };
  if (body?.type === 4 || body?.type === 5) {
    const content = body?.type === 4 ? String(body?.data?.content ?? '') : '';
    const bad = tooLong(content);
    if (bad) return bad;
    const m = fake.addMessage({
      channelId: it.channel_id,
      author: fake.botUser,
      content,
      allowedMentions: body?.data?.allowed_mentions,
      flags,
      interactionToken: it.token,
    });
    it.original_message_id = m.id;
  }
  // 9: a modal, shown to the user; `submitModal` answers it.
  if (body?.type === 9) it.modal = body.data;
  return { status: 204 };
}

function webhookRoute(fake: FakeDiscord, method: string, token: string, seg: string[], body: any): Reply {
  const it = [...fake.interactions.values()].find((i) => i.token === token);
  if (!it) return { status: 404, body: { message: 'Unknown Webhook', code: 10015 } };
  if (fake.tokenExpired(it)) return { status: 401, body: { message: 'Invalid Webhook Token', code: INVALID_WEBHOOK_TOKEN } };
  if (seg.length === 0 && method === 'POST') {
    const bad = tooLong(body?.content);
    if (bad) return bad;
    const m = fake.addMessage({
      channelId: it.channel_id,
      author: fake.botUser,
      content: body?.content ?? '',
      allowedMentions: body?.allowed_mentions,
      flags: body?.flags ?? 0,
      interactionToken: token,
    });
    it.followup_ids.push(m.id);
    return ok(messageJson(m));
  }
  if (seg[0] !== 'messages' || !seg[1]) return { status: 404, body: { message: '404: Not Found', code: 0 } };
  const message = webhookMessage(fake, it, seg[1]);
  if (!message) return { status: 404, body: { message: 'Unknown Message', code: UNKNOWN_MESSAGE } };
  if (method === 'GET') return ok(messageJson(message));
  if (method === 'PATCH') {
    const bad = tooLong(body?.content);
    if (bad) return bad;
    fake.editMessage(message, body?.content, body?.components);
    return ok(messageJson(message));
  }
  if (method === 'DELETE') {
    message.deleted = true;
    return { status: 204 };
  }
  return { status: 404, body: { message: '404: Not Found', code: 0 } };
}

function webhookMessage(fake: FakeDiscord, it: FakeInteraction, id: string): FakeMessage | undefined {
  const mid = id === '@original' ? it.original_message_id : id;
  const m = mid ? fake.messages.get(mid) : undefined;
  return m && !m.deleted && m.interaction_token === it.token ? m : undefined;
}

/** GATEWAY_MESSAGE_CONTENT_LIMITED (1 << 19) when the portal allows the Message Content intent. */
function applicationFlags(fake: FakeDiscord): number {
  return (fake.grantedIntents & MESSAGE_CONTENT_INTENT) !== 0 ? 1 << 19 : 0;
}
