import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import FindMyWay from 'find-my-way';
import type { z } from 'zod';
import type { Logger } from '../kernel/logger.js';
import { attempt } from '../kernel/promise.js';
import { clientStatus, codeOfStatus, HttpError, sendError, sendJson } from './errors.js';
import { compileRoute, corsHeaders, type AnyRoute, type CompiledRoute, type GroupOptions, type RequestContext, type RouteSpec } from './routes.js';

export { readBody, DEFAULT_MAX_BODY_BYTES } from './body.js';
export { HttpError, sendError, sendJson } from './errors.js';

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
/** How long a connection refused with a 413 stays half-open, for the client to read the answer before it is cut. */
const LINGER_MS = 2_000;
/** find-my-way's default (100) would make a 128-character end-user id in `DELETE /users/{user}` a 404. */
const MAX_PARAM_LENGTH = 1_000;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Routes declared under one prefix; their declarations are what the group's OpenAPI document is made from. */
export class RouteGroup {
  readonly routes: AnyRoute[] = [];
  constructor(
    private readonly server: HttpServer,
    readonly options: GroupOptions,
  ) {}

  route<
    A = undefined,
    PS extends z.ZodType | undefined = undefined,
    QS extends z.ZodType | undefined = undefined,
    BS extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<A, PS, QS, BS>): void {
    this.routes.push(spec as AnyRoute);
    this.server.mount(compileRoute(spec as AnyRoute, this.options));
  }
}

/**
 * The bot's one HTTP server on PORT: Slack events, health, metrics, dashboard and API all
 * declare their routes here (find-my-way matches them). Whoever refuses a request (no route, a
 * method not allowed, a body too large, an auth scheme, a validator, a handler), the client gets
 * the one error body `{ error: { code, message, field? } }`; a failure of ours is a 500 that says
 * nothing more.
 */
export class HttpServer {
  private readonly router = FindMyWay<FindMyWay.HTTPVersion.V1>({ maxParamLength: MAX_PARAM_LENGTH });
  private readonly groups: GroupOptions[] = [];
  /** Connections half-closed after a 413 (lingerBeforeClosing); cut at once when the server closes. */
  private readonly lingering = new Set<Socket>();
  private server?: Server;
  private started = false;

  constructor(private readonly log: Logger) {
    this.route({
      method: 'GET',
      path: '/healthz',
      auth: 'none',
      // 200 once Parley has started; 503 while it is starting or shutting down.
      handler: ({ res }) => sendJson(res, this.started ? 200 : 503, { status: this.started ? 'ok' : 'starting' }),
    });
  }

  /** Declares a route outside any group. */
  route<
    A = undefined,
    PS extends z.ZodType | undefined = undefined,
    QS extends z.ZodType | undefined = undefined,
    BS extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<A, PS, QS, BS>): void {
    this.mount(compileRoute(spec as AnyRoute));
  }

  /** Routes under `prefix` sharing CORS and availability; 404s, 405s and preflights under it get its CORS headers too. */
  group(options: GroupOptions): RouteGroup {
    this.groups.push(options);
    return new RouteGroup(this, options);
  }

  /** @internal RouteGroup's way in. */
  mount(route: CompiledRoute): void {
    this.router.on(route.spec.method, route.path, () => undefined, route);
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

  async close(): Promise<void> {
    this.started = false;
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      for (const socket of this.lingering) socket.destroy();
    });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    // HEAD is GET without the body (Node drops what is written).
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const found = this.find(method, path);
    const ctx: RequestContext = { req, res, path, params: found?.params ?? {}, query: undefined, body: undefined, auth: undefined };
    // The route's promise is chained, not awaited: nothing stays suspended while it streams (issue 19).
    return attempt(() => {
      if (found) return found.route.run(ctx);
      this.unrouted(req, res, path);
      return Promise.resolve();
    }).catch((err: unknown) => this.fail(ctx, err));
  }

  private find(method: string, path: string): { route: CompiledRoute; params: Record<string, string | undefined> } | undefined {
    const found =
      this.router.find(method as FindMyWay.HTTPMethod, path) ??
      (path.includes('%') ? this.router.find(method as FindMyWay.HTTPMethod, escapeMalformed(path)) : null);
    return found ? { route: found.store as CompiledRoute, params: found.params } : undefined;
  }

  /** No route for this method: a preflight, a 405 naming the methods there are, or a 404. */
  private unrouted(req: IncomingMessage, res: ServerResponse, path: string): void {
    const here = METHODS.map((m) => ({ m, found: this.find(m, path) })).filter((x) => x.found);
    const group = here[0]?.found?.route.group ?? this.groups.find((g) => path.startsWith(`${g.prefix}/`));
    const allowedOrigin = group?.cors ? corsHeaders(group.cors, req, res) : false;
    const allow = here.flatMap((x) => (x.m === 'GET' ? ['GET', 'HEAD'] : [x.m])).join(', ');
    if (req.method === 'OPTIONS' && here.length) {
      const origin = req.headers.origin;
      if (group?.cors && origin !== undefined && !allowedOrigin) {
        throw new HttpError(403, 'origin_not_allowed', `the origin ${origin} may not call this API`);
      }
      const methods = `${allow}, OPTIONS`;
      res.writeHead(204, {
        allow: methods,
        ...(allowedOrigin && group?.cors
          ? {
              'access-control-allow-methods': methods,
              'access-control-allow-headers': group.cors.allowHeaders,
              'access-control-max-age': String(group.cors.maxAgeS),
            }
          : {}),
      });
      return void res.end();
    }
    if (here.length) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here; use ${allow}`, { headers: { allow } });
    throw new HttpError(404, 'not_found', `no such endpoint: ${path}`);
  }

  private fail(ctx: RequestContext, err: unknown): void {
    const { req, res, path } = ctx;
    let refusal: HttpError;
    if (err instanceof HttpError) refusal = err;
    else if (clientStatus(err) !== undefined) {
      // A library's 4xx (a body parser's, …): the client's mistake, not a 500.
      const status = clientStatus(err)!;
      refusal = new HttpError(status, codeOfStatus(status), (err as Error).message || codeOfStatus(status).replace(/_/g, ' '));
    } else {
      this.log.error({ err, method: req.method, path }, 'http handler failed');
      return sendError(res, new HttpError(500, 'internal_error', 'something went wrong while handling the request; try again'));
    }
    // Refusals are the client's business (a 502 is logged by whoever threw it); one from another
    // site (403) may be a forged request, worth an operator's eye.
    const level = refusal.status === 403 ? 'warn' : 'debug';
    this.log[level]({ method: req.method, path, status: refusal.status, code: refusal.code, origin: req.headers.origin }, 'http request refused');
    if (refusal.headers.connection === 'close' && !req.complete) lingerBeforeClosing(req.socket, this.lingering);
    sendError(res, refusal);
  }
}

/**
 * A lingering close. Node ends a `connection: close` response by destroying the socket
 * (`destroySoon`), and a socket closed while the client is still sending the body it refused
 * sends a reset that can wipe out the 413 before the client reads it (the client sees EPIPE).
 * So the socket only half-closes: the answer and a FIN go out, nothing more is read (TCP flow
 * control holds the sender, so a refused body costs no memory here), and the socket is destroyed
 * LINGER_MS later, by when the client has read its answer and stopped.
 */
function lingerBeforeClosing(socket: Socket, lingering: Set<Socket>): void {
  socket.destroySoon = () => {
    socket.end();
    socket.pause();
    lingering.add(socket);
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => {
      clearTimeout(timer);
      lingering.delete(socket);
    });
  };
}

/**
 * The path with each segment that is not valid percent-encoding (`%ZZ`, a cut UTF-8 sequence)
 * escaped as it stands, so it reaches its route as a parameter the route's schema refuses
 * (a 400 naming it, after auth), rather than being a 404 no one can explain.
 */
function escapeMalformed(path: string): string {
  return path
    .split('/')
    .map((segment) => {
      try {
        decodeURIComponent(segment);
        return segment;
      } catch {
        return segment.replace(/%/g, '%25');
      }
    })
    .join('/');
}
