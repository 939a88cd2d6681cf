import { z } from 'zod';
import {
  answerSchema,
  askRequestSchema,
  citationSchema,
  deletionSchema,
  errorSchema,
  taskAcceptedSchema,
  taskFailureSchema,
  taskSchema,
  taskStatusSchema,
  usageSchema,
} from './schemas.js';

/**
 * The OpenAPI 3.1 document of `/api/v1`, generated from the zod schemas that validate the
 * requests (3.1 schemas are JSON Schema 2020-12, which is what `z.toJSONSchema` emits).
 */
export function buildOpenApiDocument(o: { maxQuestionChars: number; version: string }): Record<string, unknown> {
  const components = z.registry<{ id: string }>();
  const named = {
    AskRequest: askRequestSchema(o.maxQuestionChars),
    Answer: answerSchema,
    Citation: citationSchema,
    Usage: usageSchema,
    TaskAccepted: taskAcceptedSchema,
    Task: taskSchema,
    TaskStatus: taskStatusSchema,
    TaskFailure: taskFailureSchema,
    Error: errorSchema,
    Deletion: deletionSchema,
  };
  for (const [id, schema] of Object.entries(named)) components.add(schema as z.ZodType, { id });
  const { schemas } = z.toJSONSchema(components, { uri: (id) => `#/components/schemas/${id}` });
  // Each component is embedded in the document, so it needs neither its own $schema nor $id.
  for (const s of Object.values(schemas)) {
    delete (s as Record<string, unknown>).$schema;
    delete (s as Record<string, unknown>).$id;
  }

  const ref = (id: keyof typeof named) => ({ $ref: `#/components/schemas/${id}` });
  const json = (id: keyof typeof named, description: string) => ({ description, content: { 'application/json': { schema: ref(id) } } });
  const retryAfter = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer' } } };
  const errors = {
    '400': json('Error', 'Invalid request; `error.field` names the field at fault.'),
    '401': json('Error', 'Missing or wrong API key.'),
    '429': { ...json('Error', "The key's rate limit (`rate_limited`) or daily token budget (`budget_exhausted`) is reached."), headers: retryAfter },
  };
  const askBody = { required: true, content: { 'application/json': { schema: ref('AskRequest') } } };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley HTTP API',
      version: o.version,
      description:
        'Ask the Parley support assistant from a website, a widget or an internal tool: the same engine, routing, knowledge and guardrails as in Slack and Discord.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerKey: [] }, { headerKey: [] }],
    paths: {
      '/api/v1/ask': {
        post: {
          operationId: 'ask',
          summary: 'Ask a question; the answer is streamed (SSE) or returned as one JSON body.',
          description:
            'With `Accept: text/event-stream` the answer streams as Server-Sent Events: `start` `{conversationId}`, then `delta` `{text}` ' +
            '(append) and `replace` `{text}` (the whole text so far, when it was rewritten), then `done` with the Answer, or `error` with an Error. ' +
            'Otherwise one JSON Answer.',
          requestBody: askBody,
          responses: {
            '200': {
              description: 'The answer.',
              content: {
                'application/json': { schema: ref('Answer') },
                'text/event-stream': { schema: { type: 'string', description: 'Events: start, delta, replace, done (data: Answer), error (data: Error).' } },
              },
            },
            ...errors,
            '503': json('Error', 'Parley is shutting down.'),
          },
        },
      },
      '/api/v1/tasks': {
        post: {
          operationId: 'submitTask',
          summary: 'Submit a question to answer in the background; poll the task for the answer.',
          requestBody: askBody,
          responses: {
            '202': { ...json('TaskAccepted', 'Accepted; poll the Location.'), headers: { Location: { schema: { type: 'string' } } } },
            ...errors,
            '503': json('Error', 'Parley is shutting down.'),
          },
        },
      },
      '/api/v1/tasks/{id}': {
        get: {
          operationId: 'getTask',
          summary: 'A task: pending, running, completed (with the answer) or failed (with the reason).',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^t_[A-Za-z0-9_-]{22}$' } }],
          responses: {
            '200': json('Task', 'The task.'),
            '400': errors['400'],
            '401': errors['401'],
            '404': json('Error', 'No such task for this key (or it expired).'),
          },
        },
      },
      '/api/v1/users/{user}': {
        delete: {
          operationId: 'forgetUser',
          summary: "Delete an end user's data (a GDPR erasure request): what this key's requests stored for them.",
          description:
            'Removes their messages (and the answers to them) from every conversation, answer records, tasks, cached answers to their questions, ' +
            'review-queue items, usage rows and analytics thread records; their question texts leave the daily question lists, whose counts stay. ' +
            'Idempotent: a second call deletes nothing and still answers 200.',
          parameters: [
            {
              name: 'user',
              in: 'path',
              required: true,
              description: 'The id sent as `user` with their questions (or the key name, for questions sent without one).',
              schema: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,128}$' },
            },
          ],
          responses: {
            '200': json('Deletion', 'Deleted; what was removed.'),
            '400': errors['400'],
            '401': errors['401'],
            '503': json('Error', 'Parley is shutting down.'),
          },
        },
      },
      '/api/v1/conversations/{id}': {
        delete: {
          operationId: 'forgetConversation',
          summary: 'Delete one conversation of this key: its history, answers, tasks, review items and analytics thread record.',
          description: 'Question texts asked in it leave the daily question lists (counts stay). Idempotent.',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^c_[A-Za-z0-9_-]{22}$' } }],
          responses: {
            '200': json('Deletion', 'Deleted; what was removed.'),
            '400': errors['400'],
            '401': errors['401'],
            '503': json('Error', 'Parley is shutting down.'),
          },
        },
      },
      '/api/v1/openapi.json': {
        get: { operationId: 'openapi', summary: 'This document.', security: [], responses: { '200': { description: 'OpenAPI 3.1 document.' } } },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        bearerKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`.' },
        headerKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
    },
  };
}
