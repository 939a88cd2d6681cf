import type { IncomingMessage as HttpRequest, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { ApiKeySettings } from '../../config/env.js';
import type { Logger } from '../../kernel/logger.js';
import { errorBodySchema } from '../../server/errors.js';
import { HttpError, sendJson, type HttpServer, type RouteGroup } from '../../server/http.js';
import { openApiDocument } from '../../server/openapi.js';
import type { AuthScheme, RequestContext } from '../../server/routes.js';
import type { ApiKeyring, TokenHold } from './keys.js';
import {
  answerSchema,
  citationSchema,
  conversationParamsSchema,
  deletionSchema,
  taskAcceptedSchema,
  taskFailureSchema,
  taskParamsSchema,
  taskSchema,
  taskStatusSchema,
  usageSchema,
  userParamsSchema,
  type AskRequest,
} from './schemas.js';

export const API_PREFIX = '/api/v1';
const API_VERSION = '1.0.0';

/** What the routes need from the adapter: the answering itself lives there. */
export interface ApiHandlers {
  keyring: ApiKeyring;
  askSchema: z.ZodType<AskRequest>;
  corsOrigins: string[];
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

/** `Authorization: Bearer <key>` or `X-API-Key: <key>`, checked against the configured hashes. */
export function apiKeyAuth(keyring: ApiKeyring): AuthScheme<ApiKeySettings> {
  return {
    name: 'apiKey',
    openapi: {
      bearerKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`.' },
      headerKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
    authenticate(req) {
      const auth = keyring.authenticate(req);
      if ('key' in auth) return auth.key;
      const message = auth.problem === 'missing' ? 'an API key is required: Authorization: Bearer <key> or X-API-Key: <key>' : 'the API key is not valid';
      throw new HttpError(401, 'unauthorized', message, { headers: { 'www-authenticate': 'Bearer' } });
    },
  };
}

type AskContext = RequestContext<AskRequest, undefined, undefined, ApiKeySettings>;

const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } };
const error = (description: string) => ({ description, content: { 'application/json': errorBodySchema } });

/** Declares `/api/v1/*`: each route with its auth, schemas and docs; the layer answers CORS, 404s, 405s and validation. */
export function mountApiRoutes(http: HttpServer, h: ApiHandlers): RouteGroup {
  const api = http.group({
    prefix: API_PREFIX,
    cors: { origins: h.corsOrigins, allowHeaders: 'Authorization, X-API-Key, Content-Type, Accept', exposeHeaders: 'Retry-After, Location', maxAgeS: 600 },
    available: () => h.accepting(),
  });
  const auth = apiKeyAuth(h.keyring);
  const askBody = { schema: h.askSchema, maxBytes: h.maxBodyBytes, example: '{"question": "…"}' };

  /**
   * The checks before an answer, in order: a requested profile must exist (422, after validation:
   * the schema cannot know the config); the key's per-minute rate (counting only valid requests,
   * so a client fixing a typo does not use up its quota); then the answer's tokens, reserved from
   * the key's daily budget before the model is called and settled after (keys.ts). One step in
   * the handler, not `use` middleware: the route's compose awaits each middleware in a frame of
   * its own, which an answer streaming for seconds would hold (issue 19: four suspended frames
   * per open stream).
   */
  const admit = async (ctx: AskContext): Promise<TokenHold | undefined> => {
    const profile = ctx.body.profile;
    if (profile !== undefined && !h.knownProfile(profile)) {
      throw new HttpError(422, 'unknown_profile', `profile: no profile named "${profile}" is configured`, { field: 'profile' });
    }
    // A store outage costs the key's limits, not the answer (logged; like the guardrails' limits).
    const rate = await h.keyring.takeRequest(ctx.auth).catch((err) => storeDown(h, err, 'rate limit'));
    if (!rate.allowed) {
      throw new HttpError(429, 'rate_limited', `this API key may send ${rate.limit} questions per minute`, {
        headers: { 'retry-after': seconds(rate.retryAfterMs) },
      });
    }
    const budget = await h.keyring.reserve(ctx.auth, h.estimateTokens(ctx.body)).catch((err) => storeDown(h, err, 'token budget'));
    if (!budget.allowed) {
      throw new HttpError(429, 'budget_exhausted', `this API key has used ${budget.used} of its ${budget.limit} tokens for today (UTC)`, {
        headers: { 'retry-after': seconds(budget.retryAfterMs) },
      });
    }
    h.log.debug({ key: ctx.auth.name, path: ctx.path }, 'api request');
    return budget.hold;
  };
  const limited = {
    '422': error('`profile` names no configured profile (`unknown_profile`).'),
    '429': { ...error("The key's rate limit (`rate_limited`) or daily token budget (`budget_exhausted`) is reached."), headers: retryAfter },
  };

  api.route({
    method: 'POST',
    path: '/ask',
    auth,
    body: askBody,
    // Handed on, not awaited: this handler holds no frame while the answer streams.
    handler: async (ctx) => h.ask(ctx.auth, ctx.body, ctx.req, ctx.res, await admit(ctx)),
    docs: {
      operationId: 'ask',
      summary: 'Ask a question; the answer is streamed (SSE) or returned as one JSON body.',
      description:
        'With `Accept: text/event-stream` the answer streams as Server-Sent Events: `start` `{conversationId}`, then `delta` `{text}` ' +
        '(append) and `replace` `{text}` (the whole text so far, when it was rewritten), then `done` with the Answer, or `error` with an Error. ' +
        'Otherwise one JSON Answer.',
      responses: {
        '200': {
          description: 'The answer.',
          content: {
            'application/json': answerSchema,
            'text/event-stream': { type: 'string', description: 'Events: start, delta, replace, done (data: Answer), error (data: Error).' },
          },
        },
        ...limited,
        '502': error('The model failed to answer (e.g. `llm_rejected`, `llm_timeout`).'),
      },
    },
  });

  api.route({
    method: 'POST',
    path: '/tasks',
    auth,
    body: askBody,
    handler: async (ctx) => h.submitTask(ctx.auth, ctx.body, ctx.res, await admit(ctx)),
    docs: {
      operationId: 'submitTask',
      summary: 'Submit a question to answer in the background; poll the task for the answer.',
      responses: {
        '202': {
          description: 'Accepted; poll the Location.',
          content: { 'application/json': taskAcceptedSchema },
          headers: { Location: { schema: { type: 'string' } } },
        },
        ...limited,
      },
    },
  });

  api.route({
    method: 'GET',
    path: '/tasks/:id',
    auth,
    params: taskParamsSchema,
    handler: (ctx) => h.getTask(ctx.auth, ctx.params.id, ctx.res),
    docs: {
      operationId: 'getTask',
      summary: 'A task: pending, running, completed (with the answer) or failed (with the reason).',
      responses: {
        '200': { description: 'The task.', content: { 'application/json': taskSchema } },
        '404': error('No such task for this key (or it expired).'),
      },
    },
  });

  api.route({
    method: 'DELETE',
    path: '/users/:user',
    auth,
    params: userParamsSchema,
    handler: (ctx) => h.forgetUser(ctx.auth, ctx.params.user, ctx.res),
    docs: {
      operationId: 'forgetUser',
      summary: "Delete an end user's data (a GDPR erasure request): what this key's requests stored for them.",
      description:
        'Removes their messages (and the answers to them) from every conversation, answer records, tasks, cached answers to their questions, ' +
        'review-queue items, usage rows and analytics thread records; their question texts leave the daily question lists, whose counts stay. ' +
        'Idempotent: a second call deletes nothing and still answers 200.',
      responses: { '200': { description: 'Deleted; what was removed.', content: { 'application/json': deletionSchema } } },
    },
  });

  api.route({
    method: 'DELETE',
    path: '/conversations/:id',
    auth,
    params: conversationParamsSchema,
    handler: (ctx) => h.forgetConversation(ctx.auth, ctx.params.id, ctx.res),
    docs: {
      operationId: 'forgetConversation',
      summary: 'Delete one conversation of this key: its history, answers, tasks, review items and analytics thread record.',
      description: 'Question texts asked in it leave the daily question lists (counts stay). Idempotent.',
      responses: { '200': { description: 'Deleted; what was removed.', content: { 'application/json': deletionSchema } } },
    },
  });

  // Built on first request, from every route declared above (and any declared later).
  let document: Record<string, unknown> | undefined;
  api.route({
    method: 'GET',
    path: '/openapi.json',
    auth: 'none',
    // The document is served while starting or stopping too.
    available: 'always',
    handler: ({ res }) => {
      document ??= openApiDocument(api.options, api.routes, {
        title: 'Parley HTTP API',
        version: API_VERSION,
        description:
          'Ask the Parley support assistant from a website, a widget or an internal tool: the same engine, routing, knowledge and guardrails as in Slack and Discord.',
        schemas: {
          AskRequest: h.askSchema,
          Answer: answerSchema,
          Citation: citationSchema,
          Usage: usageSchema,
          TaskAccepted: taskAcceptedSchema,
          Task: taskSchema,
          TaskStatus: taskStatusSchema,
          TaskFailure: taskFailureSchema,
          Deletion: deletionSchema,
        },
      });
      sendJson(res, 200, document);
    },
    docs: { operationId: 'openapi', summary: 'This document.', responses: { '200': { description: 'OpenAPI 3.1 document.' } } },
  });
  return api;
}

function storeDown(h: ApiHandlers, err: unknown, what: string): { allowed: true; hold?: undefined } {
  h.log.error({ err: err instanceof Error ? err.message : String(err) }, `the API key's ${what} could not be checked (store unavailable); answering anyway`);
  return { allowed: true };
}

function seconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
