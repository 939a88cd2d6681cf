import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { attempt } from '../kernel/promise.js';
import { readBody } from './body.js';
import { compose, type Middleware } from './compose.js';
import { HttpError } from './errors.js';
import { firstIssue } from './validation.js';

/**
 * Route declarations: each carries its auth requirement, its zod schemas (params, query, body)
 * and its documentation, so the layer authenticates and validates before a handler runs, and an
 * OpenAPI document is derived from the same declarations (openapi.ts).
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One request as a handler sees it: validated params, query and body, and who is asking. */
export interface RequestContext<B = unknown, P = unknown, Q = unknown, A = unknown> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path, without the query string. */
  readonly path: string;
  params: P;
  query: Q;
  body: B;
  auth: A;
}

/**
 * Who may call a route. `authenticate` returns the principal (an API key, the admin) or throws
 * an HttpError (401 with WWW-Authenticate, …). Defined where the credentials live (the API's
 * keyring, the dashboard's token, Slack's signing secret); the layer only calls it.
 */
export interface AuthScheme<A> {
  readonly name: string;
  /** The OpenAPI security schemes it is documented as; any one of them is accepted. */
  readonly openapi?: Record<string, Record<string, unknown>>;
  authenticate(req: IncomingMessage): A | Promise<A>;
}

/** The scheme, but a request without valid credentials passes with `auth` undefined (a page that shows a sign-in form instead). */
export function optionalAuth<A>(scheme: AuthScheme<A>): AuthScheme<A | undefined> {
  return {
    name: scheme.name,
    async authenticate(req) {
      try {
        return await scheme.authenticate(req);
      } catch (err) {
        if (err instanceof HttpError && err.status === 401) return undefined;
        throw err;
      }
    },
  };
}

export interface BodySpec<S extends z.ZodType> {
  schema: S;
  /** Longer bodies are refused while reading (413, `connection: close`). */
  maxBytes: number;
  /** `json` (default), or `form` (application/x-www-form-urlencoded, read as an object of strings). */
  type?: 'json' | 'form';
  /**
   * Refuse (415) a body not sent as `Content-Type: application/json`. For routes that change
   * state with a cookie: a cross-site form cannot send that without a CORS preflight.
   */
  requireJsonMediaType?: boolean;
  /** A valid body, for the message when the body is not JSON (`{"question": "…"}`). */
  example?: string;
}

/** Which browser origins may call a group of routes, and what they may send and read. */
export interface CorsOptions {
  /** Exact origins (`https://www.example.com`), or `*` for any. Empty = no cross-origin calls. */
  origins: readonly string[];
  allowHeaders: string;
  exposeHeaders: string;
  /** How long a browser may cache a preflight. */
  maxAgeS: number;
}

/** How a route is described in its group's OpenAPI document (openapi.ts). */
export interface ResponseDoc {
  description: string;
  /** Media type → a zod schema (a named one becomes a `$ref`) or a JSON Schema taken as it is. */
  content?: Record<string, z.ZodType | Record<string, unknown>>;
  headers?: Record<string, { description?: string; schema: Record<string, unknown> }>;
}

export interface OperationDocs {
  operationId: string;
  summary: string;
  description?: string;
  /** What the handler answers: its successes, and errors beyond the layer's own (404, 422, 429, …). */
  responses: Record<string, ResponseDoc>;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteSpec<A, PS extends z.ZodType | undefined, QS extends z.ZodType | undefined, BS extends z.ZodType | undefined> {
  method: HttpMethod;
  /** Relative to the group's prefix; `:name` is a path parameter (`/tasks/:id`). */
  path: string;
  /** Who may call it: a scheme, or `none` for a public route (health, assets, Slack's own signature aside). */
  auth: AuthScheme<A> | 'none';
  params?: PS;
  query?: QS;
  body?: BS extends z.ZodType ? BodySpec<BS> : undefined;
  /**
   * Refuse (403) a request whose Origin header names another site (an absent Origin passes:
   * curl, scripts). For routes that change state with a cookie.
   */
  sameOrigin?: boolean;
  /** False = answer 503 (starting or stopping); `always` = never 503, whatever the group says. */
  available?: (() => boolean) | 'always';
  /** Run after authentication and validation, before the handler (rate limits, budgets). */
  use?: Middleware<RequestContext<Out<BS>, Out<PS>, Out<QS>, A>>[];
  handler: (ctx: RequestContext<Out<BS>, Out<PS>, Out<QS>, A>) => void | Promise<void>;
  /** For the group's OpenAPI document. */
  docs?: OperationDocs;
}

/**
 * A declaration as the server and the OpenAPI generator keep it. The principal is `any`: each
 * route's is its own (an API key, the admin), and the server only passes it on to that route.
 */
export type AnyRoute = RouteSpec<any, z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>;

/** Routes under one prefix sharing CORS and availability (the HTTP API): also for its 404s, 405s and preflights. */
export interface GroupOptions {
  prefix: string;
  cors?: CorsOptions;
  /** False = answer 503 (starting or stopping), unless a route says otherwise. */
  available?: () => boolean;
}

export interface CompiledRoute {
  readonly spec: AnyRoute;
  readonly group?: GroupOptions;
  /** The full path, in the router's syntax. */
  readonly path: string;
  run(ctx: RequestContext): Promise<void>;
}

const UNAVAILABLE = () => new HttpError(503, 'unavailable', 'Parley is starting or shutting down; try again shortly', { headers: { 'retry-after': '5' } });

/** The route's pipeline, built once: CORS, availability, auth, same-origin, params, query, body, `use`, handler. */
export function compileRoute(spec: AnyRoute, group?: GroupOptions): CompiledRoute {
  const steps: ((ctx: RequestContext) => void | Promise<void>)[] = [];
  const cors = group?.cors;
  if (cors) steps.push((ctx) => void corsHeaders(cors, ctx.req, ctx.res));
  const available = spec.available === 'always' ? undefined : (spec.available ?? group?.available);
  if (available)
    steps.push(() => {
      if (!available()) throw UNAVAILABLE();
    });
  const auth = spec.auth;
  if (auth !== 'none')
    steps.push((ctx) => {
      // Most schemes answer at once (a hash compared): no promise to wait for then.
      const principal = auth.authenticate(ctx.req);
      if (principal instanceof Promise) return principal.then((p) => void (ctx.auth = p));
      ctx.auth = principal;
    });
  if (spec.sameOrigin)
    steps.push((ctx) => {
      if (!sameOrigin(ctx.req)) {
        throw new HttpError(403, 'origin_not_allowed', `requests from ${ctx.req.headers.origin} may not change anything here`);
      }
    });
  const params = spec.params;
  if (params) steps.push((ctx) => void (ctx.params = validate(params, ctx.params)));
  const query = spec.query;
  if (query) steps.push((ctx) => void (ctx.query = validate(query, queryOf(ctx.req))));
  const body = spec.body;
  if (body) steps.push(async (ctx) => void (ctx.body = await readValidBody(body, ctx.req)));
  const rest = compose<RequestContext>([...(spec.use ?? []), (ctx) => spec.handler(ctx)]);
  return {
    spec,
    group,
    path: (group?.prefix ?? '') + spec.path,
    // Steps that wait (reading the body) are chained, not awaited: no frame stays suspended
    // while the handler streams its answer (issue 19).
    run(ctx) {
      const from = (i: number): Promise<void> => {
        for (; i < steps.length; i++) {
          const pending = steps[i]!(ctx);
          if (pending) return pending.then(() => from(i + 1));
        }
        return rest(ctx);
      };
      return attempt(() => from(0));
    },
  };
}

/** Marks a response for an allowed origin (errors included, so a browser can read them). */
export function corsHeaders(cors: CorsOptions, req: IncomingMessage, res: ServerResponse): boolean {
  if (!cors.origins.length) return false;
  res.setHeader('vary', 'Origin');
  const origin = req.headers.origin;
  if (origin === undefined || !(cors.origins.includes('*') || cors.origins.includes(origin))) return false;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-expose-headers', cors.exposeHeaders);
  return true;
}

function validate<S extends z.ZodType>(schema: S, value: unknown, root?: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const { field, message } = firstIssue(parsed.error, root);
  throw new HttpError(400, 'invalid_request', message, { field });
}

function queryOf(req: IncomingMessage): Record<string, string> {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return q < 0 ? {} : Object.fromEntries(new URLSearchParams(url.slice(q + 1)));
}

/** The media type of the request body, without parameters. */
function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

async function readValidBody(spec: BodySpec<z.ZodType>, req: IncomingMessage): Promise<unknown> {
  if (spec.requireJsonMediaType && mediaType(req) !== 'application/json') {
    throw new HttpError(415, 'unsupported_media_type', 'send the body as JSON, with Content-Type: application/json');
  }
  const text = (await readBody(req, spec.maxBytes)).toString('utf8');
  if (spec.type === 'form') return validate(spec.schema, Object.fromEntries(new URLSearchParams(text)), 'body');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    const hint = spec.example ? `; send ${spec.example} with Content-Type: application/json` : '';
    throw new HttpError(400, 'invalid_json', `body: not valid JSON${hint}`, { field: 'body' });
  }
  return validate(spec.schema, data, 'body');
}

/** An absent Origin (curl, scripts) passes; a present one must name this host exactly. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    const o = new URL(origin);
    // The Host header as a URL host (default port dropped, lower case), to compare like with like.
    return o.host === new URL(`${o.protocol}//${req.headers.host ?? ''}`).host;
  } catch {
    return false; // "null" (sandboxed frames, some redirects) and anything unparsable
  }
}
