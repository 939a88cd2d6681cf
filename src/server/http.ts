import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * The bot's one HTTP server on PORT: Slack events, health, metrics, dashboard and API all
 * mount routes here. Exact paths, or a prefix ending in `/*`.
 */
export class HttpServer {
  private readonly routes: { method: string; path: string; prefix: boolean; handler: RouteHandler }[] = [];
  private server?: Server;
  private started = false;

  constructor(private readonly log: Logger) {
    this.route('GET', '/healthz', (_req, res) => {
      // 200 once Parley has started; 503 while it is starting or shutting down.
      sendJson(res, this.started ? 200 : 503, { status: this.started ? 'ok' : 'starting' });
    });
  }

  route(method: string, path: string, handler: RouteHandler): void {
    const prefix = path.endsWith('/*');
    this.routes.push({ method: method.toUpperCase(), path: prefix ? path.slice(0, -1) : path, prefix, handler });
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Marks the process as started (healthz 200) or stopping. */
  setStarted(started: boolean): void {
    this.started = started;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const server = createServer((req, res) => void this.dispatch(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const candidates = this.routes.filter((r) => (r.prefix ? path.startsWith(r.path) : path === r.path));
    const route = candidates.find((r) => r.method === req.method || (r.method === 'GET' && req.method === 'HEAD'));
    if (!route) {
      if (candidates.length) return sendJson(res, 405, { error: 'method_not_allowed' });
      return sendJson(res, 404, { error: 'not_found' });
    }
    try {
      await route.handler(req, res);
    } catch (err) {
      this.log.error({ err, path }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error' });
      else res.end();
    }
  }

  async close(): Promise<void> {
    this.started = false;
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

export async function readBody(req: IncomingMessage, limitBytes = 1_000_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
