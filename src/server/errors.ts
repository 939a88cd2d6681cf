import { STATUS_CODES, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { ParleyError } from '../kernel/errors.js';

/**
 * The one error body every route answers with, whatever family it belongs to (API, dashboard,
 * Slack, ops) and whoever refuses (the server's 404/405/413/500, the layer's auth and
 * validation, a handler): `{ error: { code, message, field? } }`.
 */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ examples: ['invalid_request', 'not_found', 'unauthorized', 'payload_too_large', 'rate_limited'] }),
      message: z.string().meta({ description: 'What went wrong and how to fix it, for a person to read.' }),
      field: z.string().optional().meta({ description: 'The request field at fault, for validation errors.' }),
    }),
  })
  .meta({ description: 'Every error response has this shape.' });
export type ErrorBody = z.output<typeof errorBodySchema>;

/**
 * A request the server refuses: thrown from a handler, the body reader, an auth scheme or a
 * validator, and answered with `status` and the one error body. Headers (Retry-After, Allow,
 * WWW-Authenticate, `connection: close`) go with it.
 */
export class HttpError extends ParleyError {
  readonly field?: string;
  readonly headers: Record<string, string>;
  constructor(
    readonly status: number,
    code: string,
    message: string,
    o: { field?: string; headers?: Record<string, string> } = {},
  ) {
    super(code, message);
    this.field = o.field;
    this.headers = o.headers ?? {};
  }
}

/** `Payload Too Large` → `payload_too_large`: the code for a 4xx thrown without one of ours. */
export function codeOfStatus(status: number): string {
  return (STATUS_CODES[status] ?? 'bad_request').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}

/** The 4xx an error thrown by library code carries (e.g. `{ status: 422 }`), if any. */
export function clientStatus(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500 ? status : undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/**
 * Answers with the one error body. Once a response has started (an SSE stream) nothing more can
 * be said in its status: the response is ended, and its own writer has reported the error.
 */
export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) return void res.end();
  const error: ErrorBody['error'] = { code: err.code, message: err.message };
  if (err.field) error.field = err.field;
  sendJson(res, err.status, { error }, err.headers);
}
