import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { silentLogger } from '../../src/kernel/logger.js';
import { HttpError, HttpServer, sendJson } from '../../src/server/http.js';
import { openApiDocument } from '../../src/server/openapi.js';
import type { AuthScheme } from '../../src/server/routes.js';

/** The OpenAPI document is derived from the route declarations and their zod schemas, nothing else. */

const keyAuth: AuthScheme<string> = {
  name: 'key',
  openapi: { bearerKey: { type: 'http', scheme: 'bearer' } },
  authenticate: () => {
    throw new HttpError(401, 'unauthorized', 'no');
  },
};

const noteSchema = z.object({ at: z.iso.datetime(), text: z.string().meta({ description: 'What was said.' }) });

/** A small API of three routes; `item` is what a schema change changes. */
function documentFor(item: z.ZodType) {
  const http = new HttpServer(silentLogger());
  const g = http.group({ prefix: '/v2', available: () => http.isStarted });
  g.route({
    method: 'POST',
    path: '/items',
    auth: keyAuth,
    body: { schema: item, maxBytes: 4_096 },
    handler: ({ res }) => sendJson(res, 201, {}),
    docs: { operationId: 'createItem', summary: 'Create an item.', responses: { '201': { description: 'Created.', content: { 'application/json': item } } } },
  });
  g.route({
    method: 'GET',
    path: '/items/:id/notes',
    auth: keyAuth,
    params: z.object({
      id: z
        .string()
        .regex(/^i_\d+$/)
        .meta({ description: 'The item.' }),
    }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(50).optional() }),
    handler: ({ res }) => sendJson(res, 200, []),
    docs: {
      operationId: 'listNotes',
      summary: 'Notes on an item.',
      responses: { '200': { description: 'The notes.', content: { 'application/json': z.array(noteSchema) } }, '404': { description: 'No such item.' } },
    },
  });
  g.route({ method: 'GET', path: '/ping', auth: 'none', available: 'always', handler: ({ res }) => sendJson(res, 200, {}) });
  const doc = openApiDocument(g.options, g.routes, { title: 'Items', version: '2.0.0', schemas: { Item: item, Note: noteSchema } }) as any;
  return { doc, routes: g.routes };
}

const itemV1 = z.strictObject({ name: z.string().max(40) });

describe('openApiDocument', () => {
  it('lists every declared route under its path and method, with its parameters, body, security and responses', () => {
    const { doc, routes } = documentFor(itemV1);
    for (const r of routes) {
      const path = `/v2${r.path}`.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path}`).toBeTypeOf('object');
    }
    expect(Object.values(doc.paths).flatMap((p: any) => Object.keys(p))).toHaveLength(routes.length);

    const create = doc.paths['/v2/items'].post;
    expect(create.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Item' });
    expect(create.security).toEqual([{ bearerKey: [] }]);
    // The layer's own refusals, derived from the declaration: it validates, authenticates, reads a body, may be unavailable.
    expect(Object.keys(create.responses)).toEqual(['201', '400', '401', '413', '503']);
    expect(create.responses['413'].description).toContain('4096 bytes');
    expect(create.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });

    const notes = doc.paths['/v2/items/{id}/notes'].get;
    expect(notes.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: 'The item.', schema: { type: 'string', pattern: '^i_\\d+$', description: 'The item.' } },
      { name: 'limit', in: 'query', required: false, schema: expect.objectContaining({ type: 'integer', minimum: 1, maximum: 50 }) },
    ]);
    // An unnamed schema is shown inline, still referring to the named ones it holds.
    expect(notes.responses['200'].content['application/json'].schema).toEqual({ type: 'array', items: { $ref: '#/components/schemas/Note' } });
    expect(doc.components.schemas.Note.properties.text.description).toBe('What was said.');

    const ping = doc.paths['/v2/ping'].get;
    expect([ping.security, Object.keys(ping.responses)]).toEqual([[], []]);
    expect(doc.components.securitySchemes).toEqual({ bearerKey: { type: 'http', scheme: 'bearer' } });
    expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message']);
  });

  it('changes with the schemas: a field added or a limit changed shows up in the document', () => {
    const before = documentFor(itemV1).doc.components.schemas.Item;
    const after = documentFor(z.strictObject({ name: z.string().max(80), colour: z.enum(['red', 'blue']).optional() })).doc.components.schemas.Item;
    expect(before.properties).toEqual({ name: { type: 'string', maxLength: 40 } });
    expect(after.properties).toEqual({ name: { type: 'string', maxLength: 80 }, colour: { type: 'string', enum: ['red', 'blue'] } });
    expect(after.required).toEqual(['name']);
  });

  it('resolves every $ref', () => {
    const { doc } = documentFor(itemV1);
    const text = JSON.stringify(doc);
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(3);
    for (const ref of refs) {
      const target = ref
        .replace(/^#\//, '')
        .split('/')
        .reduce((node: any, part) => node?.[part], doc);
      expect(target, ref).toBeTypeOf('object');
    }
    expect(text).not.toContain('__inline');
  });
});
