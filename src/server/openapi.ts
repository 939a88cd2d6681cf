import { z } from 'zod';
import { errorBodySchema } from './errors.js';
import type { AnyRoute, GroupOptions } from './routes.js';

/**
 * An OpenAPI 3.1 document derived from route declarations: paths and methods, parameters from
 * the params and query schemas, the request body from the body schema, security from the auth
 * scheme, and the error responses the layer itself answers (400 for a route that validates, 401
 * for one that authenticates, 413 with its body limit, 415, 503). The same zod schemas validate
 * the requests, so the document cannot drift from what the server accepts. OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, which is what `z.toJSONSchema` emits.
 */

export interface DocumentInfo {
  title: string;
  version: string;
  description?: string;
  /** Schemas listed by name under `components.schemas` and referenced wherever a route uses them. `Error` is added. */
  schemas: Record<string, z.ZodType>;
}

type Json = Record<string, unknown>;
const COMPONENTS = '#/components/schemas/';
/** Ids for schemas converted in the same pass as the named ones, then put back inline. */
const INLINE = '__inline_';

export function openApiDocument(group: GroupOptions, routes: readonly AnyRoute[], info: DocumentInfo): Json {
  // One conversion for every schema: the named ones and, under temporary ids, those shown inline.
  const named = new Map<z.ZodType, string>();
  const registry = z.registry<{ id: string }>();
  for (const [name, schema] of Object.entries({ Error: errorBodySchema, ...info.schemas })) {
    named.set(schema, name);
    registry.add(schema, { id: name });
  }
  const inline = new Map<z.ZodType, string>();
  const register = (schema: z.ZodType) => {
    if (named.has(schema) || inline.has(schema)) return;
    const id = `${INLINE}${inline.size}`;
    inline.set(schema, id);
    registry.add(schema, { id });
  };
  for (const r of routes) {
    for (const s of [r.params, r.query, r.body?.schema]) if (s) register(s);
    for (const res of Object.values(r.docs?.responses ?? {})) for (const s of Object.values(res.content ?? {})) if (s instanceof z.ZodType) register(s);
  }
  const { schemas: converted } = z.toJSONSchema(registry, { uri: (id) => `${COMPONENTS}${id}`, unrepresentable: 'any' });
  for (const s of Object.values(converted)) {
    // Each is embedded in the document, so it needs neither its own $schema nor $id.
    delete (s as Json).$schema;
    delete (s as Json).$id;
  }
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (!node || typeof node !== 'object') return node;
    const ref = (node as Json).$ref;
    if (typeof ref === 'string' && ref.startsWith(`${COMPONENTS}${INLINE}`)) return resolve(converted[ref.slice(COMPONENTS.length)]);
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v)]));
  };
  const schemaOf = (s: z.ZodType | Json): Json => {
    if (!(s instanceof z.ZodType)) return s;
    const name = named.get(s);
    return name ? { $ref: `${COMPONENTS}${name}` } : (resolve(converted[inline.get(s)!]) as Json);
  };

  const components: Json = {};
  for (const [name, s] of Object.entries(converted)) if (!name.startsWith(INLINE)) components[name] = resolve(s);
  const securitySchemes: Json = {};
  const paths: Record<string, Json> = {};
  const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: `${COMPONENTS}Error` } } } });

  for (const r of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.docs?.responses ?? {})) {
      responses[status] = {
        description: res.description,
        ...(res.headers ? { headers: res.headers } : {}),
        ...(res.content ? { content: Object.fromEntries(Object.entries(res.content).map(([type, s]) => [type, { schema: schemaOf(s) }])) } : {}),
      };
    }
    // The layer's own refusals, from what the route declares (a route's own text wins).
    const layer: Record<string, unknown> = {};
    if (r.params || r.query || r.body) layer['400'] = error('Invalid request (`invalid_request`, `invalid_json`); `error.field` names the field at fault.');
    if (r.auth !== 'none') layer['401'] = error('Missing or wrong credentials (`unauthorized`).');
    if (r.sameOrigin) layer['403'] = error('Sent from another site (`origin_not_allowed`).');
    if (r.body) layer['413'] = error(`The body is larger than ${r.body.maxBytes} bytes (\`payload_too_large\`).`);
    if (r.body?.requireJsonMediaType) layer['415'] = error('The body is not sent as `application/json` (`unsupported_media_type`).');
    if (r.available !== 'always' && (r.available ?? group.available)) {
      layer['503'] = { ...error('Parley is starting or shutting down (`unavailable`).'), headers: { 'Retry-After': { schema: { type: 'integer' } } } };
    }
    for (const [status, doc] of Object.entries(layer)) responses[status] ??= doc;

    const parameters = [...parametersOf(r.params, 'path', schemaOf), ...parametersOf(r.query, 'query', schemaOf)];
    let security: Json[] = [];
    if (r.auth !== 'none') {
      Object.assign(securitySchemes, r.auth.openapi);
      security = Object.keys(r.auth.openapi ?? {}).map((name) => ({ [name]: [] }));
    }
    const path = (group.prefix + r.path).replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      ...(r.docs ? { operationId: r.docs.operationId, summary: r.docs.summary } : {}),
      ...(r.docs?.description ? { description: r.docs.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { [r.body.type === 'form' ? 'application/x-www-form-urlencoded' : 'application/json']: { schema: schemaOf(r.body.schema) } },
            },
          }
        : {}),
      security,
      responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
    };
  }

  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    servers: [{ url: '/' }],
    paths,
    components: { schemas: components, securitySchemes },
  };
}

/** An object schema's properties as OpenAPI parameters (path parameters are always required). */
function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query', schemaOf: (s: z.ZodType) => Json): Json[] {
  if (!schema) return [];
  const json = schemaOf(schema);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries((json.properties as Record<string, Json> | undefined) ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }));
}
