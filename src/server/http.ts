import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../kernel/logger.js';

/**
 * A request the client must change: thrown from a handler (or readBody), answered by the server
 * with `status` and `{ error: code, message }`. Any error with a 4xx `status` is answered so.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The 4xx status an error carries, if any. */
function clientStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500 ? status : undefined;
}

/** `Payload Too Large` → `payload_too_large`, like the server's other error codes. */
function codeOf(status: number): string {
  return (STATUS_CODES[status] ?? 'bad_request').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/**
 * A client has this long to send its request headers, and this long to send the whole request
 * (answers may stream for longer: these bound only what the client sends). Slow senders
 * (slowloris) get a 408 and the connection closed. Every caller is a machine (Slack, a widget's
 * backend, a browser) sending small requests.
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** How often Node checks those timeouts (its default, 30 s, would let a slow sender overstay by that much). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

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
    const server = createServer(
      { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
      (req, res) => void this.dispatch(req, res),
    );
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
      const status = clientStatus(err);
      if (status !== undefined) {
        // The client's mistake (a body too large, …): its 4xx, not a 500.
        const message = (err as Error).message || STATUS_CODES[status] || 'bad request';
        this.log.warn({ path, status, message }, 'http request refused');
        if (res.headersSent) return void res.end();
        const known = err instanceof HttpError;
        return sendJson(res, status, { error: known ? err.code : codeOf(status), message }, known ? err.headers : {});
      }
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

/**
 * The request body, at most `limitBytes`, refused while reading: a longer one throws an HttpError
 * 413, which the server answers (`payload_too_large`) unless the caller answers it itself.
 */
export function readBody(req: IncomingMessage, limitBytes = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  // `connection: close`: the rest of a refused body is discarded, never read into a later request on the same connection.
  const tooLarge = () => new HttpError(413, 'payload_too_large', `the request body is larger than ${limitBytes} bytes`, { connection: 'close' });
  // A declared length over the limit is refused before reading a byte.
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) return void chunks.push(chunk);
      // Drop what was read and discard the rest as it arrives (nothing more is kept), so the
      // client can finish sending and read the 413. Closing the socket instead would make most
      // clients fail with EPIPE before they see the answer. REQUEST_TIMEOUT_MS bounds how long
      // a sender may keep a refused body coming.
      cleanup();
      chunks.length = 0;
      req.resume();
      reject(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** The limit for a route that does not name its own (every route that reads a body has one). */
export const DEFAULT_MAX_BODY_BYTES = 1_000_000;
