import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { Workspace, type FakeMessage } from './model.js';
import { runMethod, type Params, type Recorded, type StreamSwitches } from './web-api.js';
import { postSigned, type DeliveryResult } from './signing.js';

/**
 * A fake Slack: a real HTTP server answering the Web API at `apiUrl` (what `@slack/web-api`
 * sends: form-urlencoded or JSON, `Authorization: Bearer`), with Slack's per-method rate limits,
 * a per-channel message model with edit history, signed Events API and slash-command delivery,
 * `response_url` with its 5-use limit, and Socket Mode (apps.connections.open → WebSocket).
 */

/** `response_url` accepts 5 posts within 30 minutes. */
export const RESPONSE_URL_MAX_USES = 5;

interface Window {
  amount: number;
  windowMs: number;
  /** What the limit is counted per: the workspace or the channel. */
  per: 'team' | 'channel';
}

/** Slack's published tiers for the methods the adapter calls (per app, per workspace). */
export const DEFAULT_RATE_LIMITS: Record<string, Window> = {
  'chat.update': { amount: 50, windowMs: 60_000, per: 'team' }, // Tier 3
  'chat.postMessage': { amount: 3, windowMs: 1_000, per: 'channel' }, // ~1/s per channel, short bursts tolerated
  'chat.appendStream': { amount: 100, windowMs: 60_000, per: 'team' }, // Tier 4
  'chat.startStream': { amount: 20, windowMs: 60_000, per: 'team' }, // Tier 2
  'chat.stopStream': { amount: 20, windowMs: 60_000, per: 'team' }, // Tier 2
  'users.info': { amount: 100, windowMs: 60_000, per: 'team' }, // Tier 4
};

export interface ApiCall {
  method: string;
  params: Params;
  /** 200 or 429 */
  status: number;
  ok: boolean;
  error?: string;
  at: number;
}

interface Injected {
  remaining: number;
  error?: string;
  retryAfterSeconds: number;
}

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  signingSecret?: string;
  teamId?: string;
}

export class FakeSlack {
  readonly ws: Workspace;
  readonly calls: ApiCall[] = [];
  readonly recorded: Recorded = { ephemerals: [], statuses: [], suggestedPrompts: [], reactions: [], views: [] };
  readonly stream: StreamSwitches = { mode: 'on' };
  /** Per-method rate limits; set `rateLimitsEnabled = false` to switch them off. */
  rateLimits: Record<string, Window> = { ...DEFAULT_RATE_LIMITS };
  rateLimitsEnabled = true;
  /** Posts to each response_url, by its id. */
  readonly responses = new Map<string, { body: any; status: number; at: number }[]>();
  readonly botToken: string;
  readonly appToken: string;
  readonly signingSecret: string;
  /** Scopes the bot token was granted; sent in `x-oauth-scopes` on every Web API answer, as Slack does. */
  grantedScopes = [
    'app_mentions:read',
    'assistant:write',
    'channels:history',
    'channels:read',
    'chat:write',
    'chat:write.public',
    'commands',
    'files:read',
    'groups:history',
    'groups:read',
    'im:history',
    'reactions:read',
    'users:read',
  ];
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly injected = new Map<string, Injected>();
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingAcks = new Map<string, (payload: any) => void>();
  private eventCounter = 0;
  private readonly wss: WebSocketServer;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    o: Required<FakeSlackOptions>,
  ) {
    this.ws = new Workspace(o.teamId, 'UBOT000001', 'BBOT000001');
    this.botToken = o.botToken;
    this.appToken = o.appToken;
    this.signingSecret = o.signingSecret;
    this.wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/socket')) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (client) => this.onSocket(client));
    });
  }

  static async start(o: FakeSlackOptions = {}): Promise<FakeSlack> {
    let fake!: FakeSlack;
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    fake = new FakeSlack(server, `http://127.0.0.1:${port}`, {
      botToken: o.botToken ?? 'xoxb-fake-bot-token',
      appToken: o.appToken ?? 'xapp-fake-app-token',
      signingSecret: o.signingSecret ?? 'fake-signing-secret',
      teamId: o.teamId ?? 'T0FAKE0001',
    });
    return fake;
  }

  /** What `SLACK_API_URL` is set to (web-api wants the trailing slash). */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  get teamId(): string {
    return this.ws.teamId;
  }

  get botUserId(): string {
    return this.ws.botUserId;
  }

  /** The next `count` calls of `method` fail: 429 with Retry-After, or `{ok:false, error}`. */
  failNext(method: string, count: number, o: { error?: string; retryAfterSeconds?: number } = {}): void {
    this.injected.set(method, { remaining: count, error: o.error, retryAfterSeconds: o.retryAfterSeconds ?? 1 });
  }

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  // ---- Web API -------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (path.startsWith('/response/')) return this.handleResponseUrl(path.slice('/response/'.length), raw, res);
    if (!path.startsWith('/api/')) return send(res, 404, { ok: false, error: 'not_found' });
    const method = path.slice('/api/'.length);
    const params = parseParams(raw, req.headers['content-type'] ?? '', req.url ?? '');
    const token = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '') || params.token;
    const wanted = method === 'apps.connections.open' ? this.appToken : this.botToken;
    if (token !== wanted) return this.answer(res, method, params, 200, { ok: false, error: 'invalid_auth' });

    const injected = this.injected.get(method);
    if (injected && injected.remaining > 0) {
      injected.remaining--;
      if (!injected.error) return this.rateLimited(res, method, params, injected.retryAfterSeconds);
      return this.answer(res, method, params, 200, { ok: false, error: injected.error });
    }
    const wait = this.rateWait(method, params);
    if (wait !== undefined) return this.rateLimited(res, method, params, wait);

    if (method === 'apps.connections.open') {
      return this.answer(res, method, params, 200, { ok: true, url: `${this.url.replace(/^http/, 'ws')}/socket?ticket=${randomUUID()}` });
    }
    this.answer(res, method, params, 200, runMethod(this.ws, method, params, this.stream, this.recorded));
  }

  private answer(
    res: ServerResponse,
    method: string,
    params: Params,
    status: number,
    body: { ok: boolean; error?: string; [k: string]: unknown },
    headers: Record<string, string> = {},
  ): void {
    this.calls.push({ method, params, status, ok: body.ok, error: body.error, at: Date.now() });
    send(res, status, body, { 'x-oauth-scopes': this.grantedScopes.join(','), ...headers });
  }

  private rateLimited(res: ServerResponse, method: string, params: Params, retryAfterSeconds: number): void {
    this.answer(res, method, params, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfterSeconds) });
  }

  /** Seconds to wait if `method` is over its limit, counting this call otherwise. */
  private rateWait(method: string, params: Params): number | undefined {
    const limit = this.rateLimits[method];
    if (!this.rateLimitsEnabled || !limit) return undefined;
    const key = `${method}:${limit.per === 'channel' ? params.channel : this.teamId}`;
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || now - w.start >= limit.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    if (w.count >= limit.amount) return Math.max(1, Math.ceil((w.start + limit.windowMs - now) / 1000));
    w.count++;
    return undefined;
  }

  // ---- Events API and slash commands over HTTP ------------------------------------------

  /** A user posts `text` (stored in the channel's history); returns the message. */
  userSays(channel: string, user: string, text: string, threadTs?: string): FakeMessage {
    return this.ws.post(channel, user, text, { thread_ts: threadTs });
  }

  /** The `event` object Slack sends for a user's message (`message` or `app_mention`). */
  messageEvent(m: FakeMessage, type: 'message' | 'app_mention' = 'message', extra: Record<string, unknown> = {}): Record<string, unknown> {
    const im = m.channel.startsWith('D');
    return {
      type,
      user: m.user,
      text: m.text,
      ts: m.ts,
      ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      channel: m.channel,
      ...(type === 'message' ? { channel_type: im ? 'im' : 'channel' } : {}),
      team: this.teamId,
      event_ts: m.ts,
      ...extra,
    };
  }

  /** The Events API envelope around `event`. */
  envelope(
    event: Record<string, unknown>,
    eventId = `Ev${String(++this.eventCounter).padStart(4, '0')}${randomUUID().slice(0, 8).toUpperCase()}`,
  ): Record<string, unknown> {
    return {
      token: 'legacy-verification-token',
      team_id: this.teamId,
      api_app_id: 'A0FAKEAPP1',
      event,
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: this.teamId, user_id: this.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
  }

  /**
   * Delivers an Events API envelope to `url`, signed as Slack signs it. `retryNum` adds the
   * headers of Slack's retries; `timestampSeconds`/`forgeSignature` make stale or forged requests.
   */
  deliver(
    url: string,
    envelope: Record<string, unknown>,
    o: { retryNum?: number; timestampSeconds?: number; forgeSignature?: string; secret?: string } = {},
  ): Promise<DeliveryResult> {
    const headers: Record<string, string> = {};
    if (o.retryNum) {
      headers['x-slack-retry-num'] = String(o.retryNum);
      headers['x-slack-retry-reason'] = 'http_timeout';
    }
    return postSigned(url, JSON.stringify(envelope), {
      secret: o.secret ?? this.signingSecret,
      timestampSeconds: o.timestampSeconds,
      forgeSignature: o.forgeSignature,
      contentType: 'application/json',
      headers,
    });
  }

  /** The form fields Slack posts for a slash command; `response_url` points at this fake. */
  commandPayload(o: { command?: string; text: string; user: string; channel: string; userName?: string }): Record<string, string> {
    const id = randomUUID();
    this.responses.set(id, []);
    return {
      token: 'legacy-verification-token',
      team_id: this.teamId,
      team_domain: 'fake',
      channel_id: o.channel,
      channel_name: this.ws.channels.get(o.channel)?.name ?? 'general',
      user_id: o.user,
      user_name: o.userName ?? this.ws.users.get(o.user)?.name ?? 'someone',
      command: o.command ?? '/ask',
      text: o.text,
      api_app_id: 'A0FAKEAPP1',
      is_enterprise_install: 'false',
      response_url: `${this.url}/response/${id}`,
      trigger_id: `${Date.now()}.${randomUUID().slice(0, 8)}`,
    };
  }

  sendCommand(url: string, payload: Record<string, string>): Promise<DeliveryResult> {
    return postSigned(url, new URLSearchParams(payload).toString(), { secret: this.signingSecret, contentType: 'application/x-www-form-urlencoded' });
  }

  /**
   * A user clicks a Block Kit button: a signed `block_actions` interactive payload (form field
   * `payload`), posted to `url` as Slack posts it. `threadTs`: the thread the clicked message is in.
   */
  clickButton(
    url: string,
    o: { user: string; channel: string; actionId: string; value: string; threadTs?: string; messageTs?: string; ephemeral?: boolean },
  ): Promise<DeliveryResult> {
    const user = this.ws.users.get(o.user);
    const payload = {
      type: 'block_actions',
      user: { id: o.user, username: user?.name ?? 'someone', name: user?.name ?? 'someone', team_id: this.teamId },
      api_app_id: 'A0FAKEAPP1',
      token: 'legacy-verification-token',
      container: {
        type: 'message',
        message_ts: o.messageTs ?? this.ws.nextTs(),
        channel_id: o.channel,
        is_ephemeral: o.ephemeral ?? true,
        ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
      },
      trigger_id: `${Date.now()}.${randomUUID().slice(0, 8)}`,
      team: { id: this.teamId, domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: o.channel, name: this.ws.channels.get(o.channel)?.name ?? 'general' },
      state: { values: {} },
      actions: [
        {
          action_id: o.actionId,
          block_id: 'parley_feedback',
          value: o.value,
          type: 'button',
          text: { type: 'plain_text', text: o.actionId },
          action_ts: String(Date.now() / 1000),
        },
      ],
    };
    return postSigned(url, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), {
      secret: this.signingSecret,
      contentType: 'application/x-www-form-urlencoded',
    });
  }

  /** Submits a modal the bot opened (a `view_submission`), with `values[block_id][action_id].value`. */
  submitView(url: string, o: { user: string; view: Record<string, any>; values: Record<string, Record<string, string>> }): Promise<DeliveryResult> {
    const state = {
      values: Object.fromEntries(
        Object.entries(o.values).map(([block, actions]) => [
          block,
          Object.fromEntries(Object.entries(actions).map(([id, value]) => [id, { type: 'plain_text_input', value }])),
        ]),
      ),
    };
    const payload = {
      type: 'view_submission',
      team: { id: this.teamId, domain: 'fake' },
      user: { id: o.user, username: this.ws.users.get(o.user)?.name ?? 'someone', team_id: this.teamId },
      api_app_id: 'A0FAKEAPP1',
      token: 'legacy-verification-token',
      trigger_id: `${Date.now()}.${randomUUID().slice(0, 8)}`,
      view: {
        id: 'V0000001',
        type: 'modal',
        callback_id: o.view.callback_id,
        private_metadata: o.view.private_metadata ?? '',
        blocks: o.view.blocks ?? [],
        state,
      },
    };
    return postSigned(url, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), {
      secret: this.signingSecret,
      contentType: 'application/x-www-form-urlencoded',
    });
  }

  /** Posts received on the response_url of a command payload. */
  responsesFor(payload: Record<string, string>): { body: any; status: number; at: number }[] {
    return this.responses.get(payload.response_url!.split('/').pop()!) ?? [];
  }

  private handleResponseUrl(id: string, raw: string, res: ServerResponse): void {
    const list = this.responses.get(id);
    if (!list) return send(res, 404, { ok: false, error: 'expired_url' });
    let body: any;
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, { ok: false, error: 'invalid_payload' });
    }
    const status = list.filter((r) => r.status === 200).length >= RESPONSE_URL_MAX_USES ? 404 : 200;
    list.push({ body, status, at: Date.now() });
    if (status !== 200) return send(res, 404, { ok: false, error: 'used_url' });
    send(res, 200, { ok: true });
  }

  // ---- Socket Mode ------------------------------------------------------------------------

  private onSocket(client: WebSocket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('message', (data) => {
      let msg: any;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      const resolve = msg?.envelope_id ? this.pendingAcks.get(msg.envelope_id) : undefined;
      if (resolve) {
        this.pendingAcks.delete(msg.envelope_id);
        resolve(msg.payload ?? {});
      }
    });
    client.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake', approximate_connection_time: 3600 },
        connection_info: { app_id: 'A0FAKEAPP1' },
      }),
    );
  }

  /** Resolves once an app has connected over Socket Mode. */
  async socketConnected(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.sockets.size === 0) {
      if (Date.now() > until) throw new Error('no Socket Mode connection');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends a Socket Mode envelope and resolves with the ack's payload and the ack time. */
  async sendSocket(
    type: 'events_api' | 'slash_commands',
    payload: unknown,
    o: { retryAttempt?: number; timeoutMs?: number } = {},
  ): Promise<{ ack: any; ms: number }> {
    const socket = [...this.sockets][0];
    if (!socket) throw new Error('no Socket Mode connection');
    const envelopeId = randomUUID();
    const started = performance.now();
    const acked = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${envelopeId}`)), o.timeoutMs ?? 5_000);
      this.pendingAcks.set(envelopeId, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
    socket.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        retry_attempt: o.retryAttempt ?? 0,
        retry_reason: o.retryAttempt ? 'timeout' : '',
      }),
    );
    const ack = await acked;
    return { ack, ms: performance.now() - started };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    this.wss.close();
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

function parseParams(raw: string, contentType: string, url: string): Params {
  const out: Params = Object.fromEntries(new URLSearchParams(url.split('?')[1] ?? ''));
  if (!raw) return out;
  if (contentType.includes('application/json')) {
    try {
      return { ...out, ...(JSON.parse(raw) as Params) };
    } catch {
      return out;
    }
  }
  return { ...out, ...Object.fromEntries(new URLSearchParams(raw)) };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}
