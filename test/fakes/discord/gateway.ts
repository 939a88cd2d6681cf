import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The fake's WebSocket gateway (v10, JSON, uncompressed): HELLO, IDENTIFY → READY and one
 * GUILD_CREATE per guild, heartbeats and ACKs, RESUME with replay of the events sent while the
 * client was away, and switches to drop the connection or refuse privileged intents (4014).
 */
export const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, Reconnect: 7, InvalidSession: 9, Hello: 10, HeartbeatAck: 11 } as const;
export const MESSAGE_CONTENT_INTENT = 1 << 15; // privileged
const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | MESSAGE_CONTENT_INTENT; // GuildMembers, GuildPresences, MessageContent
export const CLOSE_DISALLOWED_INTENTS = 4014;
const HEARTBEAT_INTERVAL_MS = 41_250; // Discord's usual value

export interface GatewayHost {
  readonly gatewayUrl: string;
  readonly token: string;
  /** READY's `d` without session fields. */
  readyPayload(): Record<string, unknown>;
  /** GUILD_CREATE payloads, sent after READY. */
  guildPayloads(): Record<string, unknown>[];
  /** Intents the application is allowed to use (the Developer Portal switches). */
  grantedIntents: number;
}

interface Session {
  id: string;
  intents: number;
  seq: number;
  /** Every dispatch of the session, to replay on RESUME. */
  sent: { s: number; t: string; d: unknown }[];
  socket?: WebSocket;
}

export class FakeGateway {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, Session>();
  private current?: Session;
  readonly identifies: { intents: number; at: number }[] = [];
  readonly resumes: { sessionId: string; seq: number; replayed: number; at: number }[] = [];
  readonly connections: WebSocket[] = [];
  heartbeats = 0;
  /** HELLO's heartbeat interval; lower it to exercise heartbeats in a short test. */
  heartbeatIntervalMs = HEARTBEAT_INTERVAL_MS;
  /** Off: heartbeats go unanswered, so the client must see a zombie connection and resume. */
  ackHeartbeats = true;

  constructor(private readonly host: GatewayHost) {
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** Whether a client session is connected and identified (or resumed). */
  get connected(): boolean {
    return this.current?.socket?.readyState === 1;
  }

  /** The intents of the current session. */
  get intents(): number | undefined {
    return this.current?.intents;
  }

  /** Sends (or buffers, while the client is away) a dispatch event on the current session. */
  dispatch(t: string, d: unknown): void {
    const session = this.current;
    if (!session) throw new Error('no gateway session: the client never identified');
    const event = { s: ++session.seq, t, d };
    session.sent.push(event);
    if (session.socket?.readyState === 1) session.socket.send(JSON.stringify({ op: Op.Dispatch, ...event }));
  }

  /** Cuts the connection without a close frame (a network drop); the session stays resumable. */
  dropConnection(): void {
    const socket = this.current?.socket;
    if (this.current) this.current.socket = undefined;
    socket?.terminate();
  }

  /** Closes the current connection with a close code, as Discord does (e.g. 4014 when an intent is revoked). */
  closeWith(code: number, reason = ''): void {
    const socket = this.current?.socket;
    if (this.current) this.current.socket = undefined;
    socket?.close(code, reason);
  }

  close(): void {
    for (const ws of this.connections) ws.terminate();
    this.wss.close();
  }

  private onConnection(ws: WebSocket): void {
    this.connections.push(ws);
    ws.send(JSON.stringify({ op: Op.Hello, d: { heartbeat_interval: this.heartbeatIntervalMs } }));
    ws.on('message', (raw) => {
      let p: any;
      try {
        p = JSON.parse(String(raw));
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      if (p.op === Op.Heartbeat) {
        this.heartbeats++;
        if (this.ackHeartbeats) ws.send(JSON.stringify({ op: Op.HeartbeatAck }));
      } else if (p.op === Op.Identify) this.onIdentify(ws, p.d);
      else if (p.op === Op.Resume) this.onResume(ws, p.d);
    });
  }

  private onIdentify(ws: WebSocket, d: any): void {
    if (d?.token !== this.host.token) {
      ws.close(4004, 'Authentication failed.');
      return;
    }
    const intents = Number(d.intents ?? 0);
    this.identifies.push({ intents, at: Date.now() });
    if (intents & PRIVILEGED_INTENTS & ~this.host.grantedIntents) {
      ws.close(CLOSE_DISALLOWED_INTENTS, 'Disallowed intent(s).');
      return;
    }
    const session: Session = { id: `session-${this.identifies.length}-${Date.now()}`, intents, seq: 0, sent: [], socket: ws };
    this.sessions.set(session.id, session);
    this.current = session;
    this.dispatch('READY', { v: 10, session_id: session.id, resume_gateway_url: this.host.gatewayUrl, ...this.host.readyPayload() });
    for (const g of this.host.guildPayloads()) this.dispatch('GUILD_CREATE', g);
  }

  private onResume(ws: WebSocket, d: any): void {
    const session = this.sessions.get(String(d?.session_id));
    if (!session || d?.token !== this.host.token) {
      ws.send(JSON.stringify({ op: Op.InvalidSession, d: false }));
      return;
    }
    session.socket = ws;
    this.current = session;
    const missed = session.sent.filter((e) => e.s > Number(d.seq ?? 0));
    this.resumes.push({ sessionId: session.id, seq: Number(d.seq ?? 0), replayed: missed.length, at: Date.now() });
    for (const e of missed) ws.send(JSON.stringify({ op: Op.Dispatch, ...e }));
    this.dispatch('RESUMED', {});
  }
}
