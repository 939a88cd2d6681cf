import type { IncomingMessage as HttpRequest, ServerResponse } from 'node:http';
import type { ApiKeySettings } from '../../config/env.js';
import type { Logger } from '../../kernel/logger.js';
import { readBody, sendJson, type HttpServer } from '../../server/http.js';
import { firstIssue } from '../../server/validation.js';
import type { ApiKeyring, TokenHold } from './keys.js';
import { isConversationId, isEndUserId, isTaskId, type AskRequest } from './schemas.js';
import type { z } from 'zod';

export const API_PREFIX = '/api/v1';

/** What the routes need from the adapter: the answering itself lives there. */
export interface ApiHandlers {
  keyring: ApiKeyring;
  askSchema: z.ZodType<AskRequest>;
  corsOrigins: string[];
  openapi: Record<string, unknown>;
  /** The largest body read, in bytes (a question a bit too long still gets a 400 naming it). */
  maxBodyBytes: number;
  log: Logger;
  /** False while starting or stopping: requests get 503. */
  accepting(): boolean;
  knownProfile(name: string): boolean;
  /** What an answer to `body` may cost at most (question and longest answer), reserved from the key's budget. */
  estimateTokens(body: AskRequest): number;
  /** Both settle `hold` (the key's reserved tokens) once answered, or release it. */
  ask(key: ApiKeySettings, body: AskRequest, req: HttpRequest, res: ServerResponse, hold?: TokenHold): Promise<void>;
  submitTask(key: ApiKeySettings, body: AskRequest, res: ServerResponse, hold?: TokenHold): Promise<void>;
  getTask(key: ApiKeySettings, id: string, res: ServerResponse): Promise<void>;
  /** `DELETE /users/{user}` and `DELETE /conversations/{id}`: what this key's requests stored for them. */
  forgetUser(key: ApiKeySettings, user: string, res: ServerResponse): Promise<void>;
  forgetConversation(key: ApiKeySettings, conversationId: string, res: ServerResponse): Promise<void>;
}

/** A JSON error as every API response shapes it: `{ error: { code, message, field? } }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  o: { field?: string; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent) return void res.end();
  sendJson(res, status, { error: { code, message, ...(o.field ? { field: o.field } : {}) } }, o.headers);
}

const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS';
const ALLOWED_HEADERS = 'Authorization, X-API-Key, Content-Type, Accept';

/** Mounts `/api/v1/*` for every method, so unknown paths and methods get this API's JSON errors too. */
export function mountApiRoutes(http: HttpServer, h: ApiHandlers): void {
  const handler = (req: HttpRequest, res: ServerResponse) => handle(h, req, res);
  for (const method of ['GET', 'POST', 'OPTIONS', 'PUT', 'PATCH', 'DELETE']) http.route(method, `${API_PREFIX}/*`, handler);
}

async function handle(h: ApiHandlers, req: HttpRequest, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const origin = req.headers.origin;
  const originAllowed = origin !== undefined && (h.corsOrigins.includes('*') || h.corsOrigins.includes(origin));
  if (originAllowed) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'Retry-After, Location');
  }
  if (h.corsOrigins.length) res.setHeader('vary', 'Origin');

  if (method === 'OPTIONS') {
    if (origin !== undefined && !originAllowed)
      return sendError(res, 403, 'origin_not_allowed', `the origin ${origin} may not call this API (API_CORS_ORIGINS)`);
    res.writeHead(204, {
      allow: ALLOWED_METHODS,
      ...(originAllowed
        ? { 'access-control-allow-methods': ALLOWED_METHODS, 'access-control-allow-headers': ALLOWED_HEADERS, 'access-control-max-age': '600' }
        : {}),
    });
    return void res.end();
  }

  try {
    const route = match(path, method ?? '');
    if (route.kind === 'not_found') return sendError(res, 404, 'not_found', `no such endpoint: ${path}`);
    if (route.kind === 'method_not_allowed')
      return sendError(res, 405, 'method_not_allowed', `${method} is not allowed here; use ${route.allow}`, { headers: { allow: route.allow } });
    if (route.kind === 'openapi') return sendJson(res, 200, h.openapi);
    if (!h.accepting())
      return sendError(res, 503, 'unavailable', 'Parley is starting or shutting down; try again shortly', { headers: { 'retry-after': '5' } });

    const auth = h.keyring.authenticate(req);
    if ('problem' in auth) {
      const message = auth.problem === 'missing' ? 'an API key is required: Authorization: Bearer <key> or X-API-Key: <key>' : 'the API key is not valid';
      return sendError(res, 401, 'unauthorized', message, { headers: { 'www-authenticate': 'Bearer' } });
    }
    const key = auth.key;

    if (route.kind === 'task') {
      if (!isTaskId(route.id)) return sendError(res, 400, 'invalid_request', 'id: expected a task id returned by POST /api/v1/tasks', { field: 'id' });
      return await h.getTask(key, route.id, res);
    }
    if (route.kind === 'user') {
      if (route.id === undefined || !isEndUserId(route.id))
        return sendError(res, 400, 'invalid_request', 'user: expected the end-user id sent as `user` (letters, digits, ., _, @ or -)', { field: 'user' });
      return await h.forgetUser(key, route.id, res);
    }
    if (route.kind === 'conversation') {
      if (route.id === undefined || !isConversationId(route.id))
        return sendError(res, 400, 'invalid_request', 'id: expected a conversation id returned by an answer', { field: 'id' });
      return await h.forgetConversation(key, route.id, res);
    }

    const body = await parseBody(h, req, res);
    if (!body) return;
    // Limits count only valid requests, so a client fixing a typo does not use up its quota.
    // A store outage costs the key's limits, not the answer (logged; like the guardrails' limits).
    const rate = await h.keyring.takeRequest(key).catch((err) => storeDown(h, err, 'rate limit'));
    if (!rate.allowed) {
      return sendError(res, 429, 'rate_limited', `this API key may send ${rate.limit} questions per minute`, {
        headers: { 'retry-after': seconds(rate.retryAfterMs) },
      });
    }
    // The answer's tokens are reserved before the model is called and settled after (keys.ts).
    const budget = await h.keyring.reserve(key, h.estimateTokens(body)).catch((err) => storeDown(h, err, 'token budget'));
    if (!budget.allowed) {
      return sendError(res, 429, 'budget_exhausted', `this API key has used ${budget.used} of its ${budget.limit} tokens for today (UTC)`, {
        headers: { 'retry-after': seconds(budget.retryAfterMs) },
      });
    }
    h.log.debug({ key: key.name, route: route.kind }, 'api request');
    if (route.kind === 'ask') return await h.ask(key, body, req, res, budget.hold);
    return await h.submitTask(key, body, res, budget.hold);
  } catch (err) {
    h.log.error({ err: err instanceof Error ? err.message : String(err), path }, 'api request failed');
    sendError(res, 500, 'internal_error', 'something went wrong while handling the request; try again');
  }
}

type Route =
  | { kind: 'ask' | 'tasks' | 'openapi' }
  | { kind: 'task'; id: string }
  /** `id` undefined: the path segment is not valid percent-encoding. */
  | { kind: 'user' | 'conversation'; id: string | undefined }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allow: string };

function match(path: string, method: string): Route {
  const want = (allow: string, route: Route): Route => (method === allow ? route : { kind: 'method_not_allowed', allow });
  if (path === `${API_PREFIX}/ask`) return want('POST', { kind: 'ask' });
  if (path === `${API_PREFIX}/tasks`) return want('POST', { kind: 'tasks' });
  if (path === `${API_PREFIX}/openapi.json`) return want('GET', { kind: 'openapi' });
  const task = new RegExp(`^${API_PREFIX}/tasks/([^/]+)$`).exec(path);
  // A malformed escape (`%ZZ`) cannot be a task id: the id check answers it with a 400.
  if (task) return want('GET', { kind: 'task', id: decodeSegment(task[1]!) ?? task[1]! });
  const user = new RegExp(`^${API_PREFIX}/users/([^/]+)$`).exec(path);
  if (user) return want('DELETE', { kind: 'user', id: decodeSegment(user[1]!) });
  const conversation = new RegExp(`^${API_PREFIX}/conversations/([^/]+)$`).exec(path);
  if (conversation) return want('DELETE', { kind: 'conversation', id: decodeSegment(conversation[1]!) });
  return { kind: 'not_found' };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The validated body, or undefined after answering with the 4xx that says what is wrong. */
async function parseBody(h: ApiHandlers, req: HttpRequest, res: ServerResponse): Promise<AskRequest | undefined> {
  let raw: Buffer;
  try {
    raw = await readBody(req, h.maxBodyBytes);
  } catch (err) {
    if ((err as { status?: number }).status === 413) {
      sendError(res, 413, 'payload_too_large', `the request body is larger than ${h.maxBodyBytes} bytes`, { field: 'question' });
      return undefined;
    }
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(raw.toString('utf8') || 'null');
  } catch {
    sendError(res, 400, 'invalid_json', 'the body is not valid JSON; send {"question": "…"} with Content-Type: application/json');
    return undefined;
  }
  const parsed = h.askSchema.safeParse(data);
  if (!parsed.success) {
    const { field, message } = firstIssue(parsed.error);
    sendError(res, 400, 'invalid_request', message, { field });
    return undefined;
  }
  if (parsed.data.profile !== undefined && !h.knownProfile(parsed.data.profile)) {
    sendError(res, 422, 'unknown_profile', `profile: no profile named "${parsed.data.profile}" is configured`, { field: 'profile' });
    return undefined;
  }
  return parsed.data;
}

function storeDown(h: ApiHandlers, err: unknown, what: string): { allowed: true; hold?: undefined } {
  h.log.error({ err: err instanceof Error ? err.message : String(err) }, `the API key's ${what} could not be checked (store unavailable); answering anyway`);
  return { allowed: true };
}

function seconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
