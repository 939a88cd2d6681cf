import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { brotliCompressSync, createBrotliCompress, createGzip, gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { REWRITE_PROMPT } from '../../src/knowledge/rewrite.js';

/**
 * A real HTTP server speaking the OpenAI chat-completions API (streamed and not), scripted
 * per request. Used through the real `openai` SDK; never a mock of the SDK.
 */
export interface ScriptedReply {
  /** The answer; split into `chunks` of a few characters unless `chunks` is given. */
  text?: string;
  chunks?: string[];
  /** Delay before the first chunk (time to first token). */
  firstTokenDelayMs?: number;
  /** Delay between chunks. */
  chunkDelayMs?: number;
  /** Answer with this HTTP status and an error body instead of a completion. */
  status?: number;
  /** With `status`: a `retry-after` header, in seconds. */
  retryAfterSeconds?: number;
  /** Close the connection after this many chunks, without `[DONE]` (a stream cut mid-way). */
  cutAfterChunks?: number;
  /** Hold the response open without sending anything (for connect/idle timeouts). */
  hang?: boolean;
  /** Only for this model; other models fall through to the next script or the default. */
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** The finish reason of the last chunk (default `stop`; `length` as if max_tokens cut the answer). */
  finishReason?: 'stop' | 'length';
  /** Compress the response body (a gateway in front of the model does): each SSE event is flushed through the encoder. */
  encoding?: 'gzip' | 'br';
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
  at: number;
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  private readonly scripts: ScriptedReply[] = [];
  /** Answer used when no script is queued. */
  defaultReply: (req: RecordedRequest) => ScriptedReply = (req) => {
    const last = [...(req.body.messages ?? [])].reverse().find((m: any) => m.role === 'user');
    const q = typeof last?.content === 'string' ? last.content : JSON.stringify(last?.content ?? '');
    return { text: `You asked: ${q}` };
  };
  /** Connections currently open (to see that an aborted stream was closed). */
  openStreams = 0;
  closedByClient = 0;
  /** TCP connections accepted so far (to see that requests reuse kept-alive ones). */
  connections = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** The environment that points Parley at this fake (model `fake-model`). */
  env(): { OPENAI_BASE_URL: string; OPENAI_API_KEY: string; OPENAI_MODEL: string } {
    return { OPENAI_BASE_URL: this.url, OPENAI_API_KEY: 'k', OPENAI_MODEL: 'fake-model' };
  }

  static async start(): Promise<FakeOpenAI> {
    let fake!: FakeOpenAI;
    const server = createServer((req, res) => void fake.handle(req, res));
    server.on('connection', () => fake.connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    fake = new FakeOpenAI(server, `http://127.0.0.1:${port}/v1`);
    return fake;
  }

  /** Queues replies for the next requests, in order. */
  script(...replies: (ScriptedReply | string)[]): this {
    for (const r of replies) this.scripts.push(typeof r === 'string' ? { text: r } : r);
    return this;
  }

  /** When set, `/embeddings` answers with this HTTP status. */
  embeddingStatus = 0;

  /** Requests to the embeddings endpoint. */
  get embeddingRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/embeddings'));
  }

  /** Requests to the chat-completions endpoint for answers (query rewrites are in `rewriteRequests`). */
  get chatRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/chat/completions') && !isQueryRewrite(r));
  }

  /** Parley's query-rewrite calls (src/knowledge/rewrite.ts). */
  get rewriteRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/chat/completions') && isQueryRewrite(r));
  }

  /**
   * How query-rewrite calls are answered; they never take a queued script, so tests that script
   * answers are not disturbed by a rewrite before them. By default the latest message comes back
   * unchanged (a rewriter with nothing to add).
   */
  rewriteReply: (req: RecordedRequest) => ScriptedReply = (req) => ({ text: latestMessage(req) });

  private next(req: RecordedRequest): ScriptedReply {
    if (isQueryRewrite(req)) return this.rewriteReply(req);
    const i = this.scripts.findIndex((s) => !s.model || s.model === req.body.model);
    if (i >= 0) return this.scripts.splice(i, 1)[0]!;
    return this.defaultReply(req);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: any = {};
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      res.writeHead(400).end();
      return;
    }
    const path = (req.url ?? '').split('?')[0]!;
    const rec: RecordedRequest = { path, headers: req.headers, body, at: Date.now() };
    this.requests.push(rec);
    if (path.endsWith('/models')) {
      json(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model' }] });
      return;
    }
    if (path.endsWith('/embeddings')) {
      if (this.embeddingStatus) {
        json(res, this.embeddingStatus, { error: { message: `scripted ${this.embeddingStatus}`, type: 'server_error' } });
        return;
      }
      const inputs: string[] = Array.isArray(body.input) ? body.input : [body.input];
      json(res, 200, {
        object: 'list',
        model: body.model,
        data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: bagOfWords(String(text)) })),
        usage: { prompt_tokens: estimate(inputs.join(' ')), total_tokens: estimate(inputs.join(' ')) },
      });
      return;
    }
    if (!path.endsWith('/chat/completions')) {
      json(res, 404, { error: { message: `no route ${path}`, type: 'invalid_request_error' } });
      return;
    }
    const s = this.next(rec);
    if (s.hang) {
      this.openStreams++;
      res.on('close', () => this.openStreams--);
      return;
    }
    if (s.status && s.status >= 400) {
      const headers: Record<string, string> = {};
      if (s.retryAfterSeconds !== undefined) headers['retry-after'] = String(s.retryAfterSeconds);
      json(res, s.status, { error: { message: `scripted ${s.status}`, type: s.status === 429 ? 'rate_limit_exceeded' : 'server_error' } }, headers, s.encoding);
      return;
    }
    const text = s.text ?? (s.chunks ?? []).join('');
    const pieces = s.chunks ?? splitText(text);
    const usage = s.usage ?? { prompt_tokens: estimate(JSON.stringify(body.messages ?? [])), completion_tokens: estimate(text) };
    const id = `chatcmpl-${this.requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      await sleep(s.firstTokenDelayMs ?? 0);
      json(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      });
      return;
    }
    let closed = false;
    this.openStreams++;
    res.on('close', () => {
      this.openStreams--;
      if (!res.writableFinished && !cutByServer.has(res)) {
        closed = true;
        this.closedByClient++;
      }
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...(s.encoding && { 'content-encoding': s.encoding }),
    });
    res.flushHeaders();
    const encoder = s.encoding === 'gzip' ? createGzip() : s.encoding === 'br' ? createBrotliCompress() : undefined;
    encoder?.pipe(res);
    const send = (obj: unknown) => {
      if (!encoder) return res.write(`data: ${JSON.stringify(obj)}\n\n`);
      encoder.write(`data: ${JSON.stringify(obj)}\n\n`);
      encoder.flush();
      return true;
    };
    await sleep(s.firstTokenDelayMs ?? 0);
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    for (let i = 0; i < pieces.length; i++) {
      if (closed) return;
      if (s.cutAfterChunks !== undefined && i >= s.cutAfterChunks) {
        await cut(res);
        return;
      }
      if (i > 0 && s.chunkDelayMs) await sleep(s.chunkDelayMs);
      if (closed) return;
      send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta: { content: pieces[i] }, finish_reason: null }] });
    }
    if (s.cutAfterChunks !== undefined && s.cutAfterChunks >= pieces.length) {
      await cut(res);
      return;
    }
    send({ id, object: 'chat.completion.chunk', created, model: body.model, choices: [{ index: 0, delta: {}, finish_reason: s.finishReason ?? 'stop' }] });
    if (body.stream_options?.include_usage) {
      send({
        id,
        object: 'chat.completion.chunk',
        created,
        model: body.model,
        choices: [],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      });
    }
    if (encoder) encoder.end('data: [DONE]\n\n');
    else res.end('data: [DONE]\n\n');
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

/** Whether a request is Parley's query-rewrite call (its system prompt). */
export function isQueryRewrite(req: RecordedRequest): boolean {
  return req.body.messages?.[0]?.role === 'system' && req.body.messages[0].content === REWRITE_PROMPT;
}

/** The message a query-rewrite call asks to rewrite. */
export function latestMessage(req: RecordedRequest): string {
  const user = String(req.body.messages?.at(-1)?.content ?? '');
  return /Latest message: ([\s\S]*?)\n\nSearch query:/.exec(user)?.[1] ?? user;
}

/** Splits text into token-like pieces: words with their following space. */
export function splitText(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/**
 * A deterministic stand-in for a real embedding: words hashed into 64 buckets (a bag of words),
 * so texts sharing words are close and the vector of a text never changes.
 */
export function bagOfWords(text: string, dims = 64): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims]! += 1;
  }
  return v;
}

function estimate(s: string): number {
  return Math.max(1, Math.ceil(s.length / 4));
}

/** Drops the connection after what was written so far has left (a stream cut mid-way). */
const cutByServer = new WeakSet<ServerResponse>();
async function cut(res: ServerResponse): Promise<void> {
  cutByServer.add(res);
  await new Promise<void>((r) => res.write('', () => r()));
  await sleep(30);
  res.socket?.destroy();
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, encoding?: 'gzip' | 'br'): void {
  const raw = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers, ...(encoding && { 'content-encoding': encoding }) });
  res.end(encoding === 'gzip' ? gzipSync(raw) : encoding === 'br' ? brotliCompressSync(raw) : raw);
}
