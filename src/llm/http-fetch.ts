import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** Per-request hooks the model client passes through the SDK's `fetchOptions` under this key. */
export const HOOKS = 'parleyHooks';
export interface FetchHooks {
  /** Any bytes of the body arrived (SSE comments included, which the SDK never surfaces). */
  onBytes?: () => void;
  /** The body of an error response, which the SDK drops when it lacks an `error` field. */
  errorBody?: string;
}

/** One connection pool per scheme for every model server, kept alive as fetch's is. */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
/** Statuses whose response may not carry a body (the Fetch standard's "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/**
 * The `fetch` the `openai` SDK calls for model requests, over node:http instead of the global
 * fetch. With 1,000 answers streaming, global fetch (undici's Fetch, Request, Response and a
 * WHATWG byte stream tee per response, each with its own closures and promises) held most of
 * the ~48 KB a relay keeps per open model stream, and was a large share of a reply's CPU
 * (issue 19). Here a streamed body is the socket's IncomingMessage, read as an async iterable
 * (the SDK reads such a body as it is); only the status and headers become a `Response`.
 *
 * Same contract as fetch for what the SDK uses: method, headers, string body, AbortSignal
 * (network errors and aborts reject; an abort while the body is read ends it quietly, as a
 * cancelled fetch body does), keep-alive, and gzip/deflate/br bodies decoded. With the hooks,
 * `onBytes` sees every chunk and an error response's text is kept in `errorBody`.
 */
export async function modelFetch(url: string | URL | Request, init: RequestInit & { [HOOKS]?: FetchHooks } = {}): Promise<Response> {
  const { [HOOKS]: hooks, signal, method = 'GET', headers, body } = init;
  if (url instanceof Request || (body != null && typeof body !== 'string')) return fetch(url, init); // not what the SDK sends for chat; fetch handles it
  const target = new URL(url);
  const https = target.protocol === 'https:';
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      target,
      { method, headers: rawHeaders(headers, target, body), agent: https ? agents.https : agents.http, signal: signal ?? undefined },
      resolve,
    );
    req.once('error', reject);
    req.end(body ?? undefined);
  });
  const status = res.statusCode ?? 500;
  const init2: ResponseInit = { status, statusText: res.statusMessage, headers: responseHeaders(res) };
  const stream = decoded(res);
  if (status < 200 || status > 299) {
    const text = await readAll(stream).then(
      (b) => b.toString('utf8'),
      () => '',
    );
    if (hooks) hooks.errorBody = text;
    return new Response(NULL_BODY_STATUS.has(status) ? null : text, init2);
  }
  if (hooks?.onBytes) {
    const response = new Response(null, init2);
    Object.defineProperty(response, 'body', { value: observed(stream, hooks.onBytes, signal) });
    return response;
  }
  const whole = await readAll(stream);
  return new Response(NULL_BODY_STATUS.has(status) ? null : whole, init2);
}

/**
 * The request's header lines as a flat [name, value, …] list (the form of `rawHeaders`), with
 * the `host` and `content-length` Node adds itself only to headers given as an object. Node
 * writes a list as it is, where an object is also kept per request as a dictionary of every
 * header (~1.6 KB per open model stream with the SDK's dozen headers; issue 19).
 */
function rawHeaders(headers: RequestInit['headers'], target: URL, body: string | null | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const entries = !headers ? [] : headers instanceof Headers || Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [k, v] of entries) {
    seen.add(k.toLowerCase());
    if (Array.isArray(v)) for (const one of v) out.push(k, String(one));
    else out.push(k, String(v));
  }
  if (!seen.has('host')) out.push('host', target.host);
  if (body != null && !seen.has('content-length') && !seen.has('transfer-encoding')) out.push('content-length', String(Buffer.byteLength(body)));
  return out;
}

function responseHeaders(res: IncomingMessage): Headers {
  const h = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
  return h;
}

/** The body decoded as fetch does for the encodings it accepts. */
function decoded(res: IncomingMessage): NodeJS.ReadableStream & AsyncIterable<Buffer> {
  const encoding = res.headers['content-encoding']?.trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return res;
  res.once('error', (err) => decoder.destroy(err));
  return res.pipe(decoder);
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

/** The body as an async iterable calling `onBytes` per chunk; after an abort it ends quietly. */
function observed(stream: AsyncIterable<Buffer>, onBytes: () => void, signal: AbortSignal | null | undefined): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for await (const chunk of stream) {
          onBytes();
          yield chunk;
        }
      } catch (err) {
        if (!signal?.aborted) throw err;
      }
    },
  };
}
