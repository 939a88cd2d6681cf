import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { countTokens } from '../../src/llm/tokens.js';

/**
 * Real HTTP servers reproducing the chat-completions wire format of the servers Parley meets
 * behind OPENAI_BASE_URL, as their public docs and source show it (field order included):
 * - `openai`: first chunk `delta: {role, content: "", refusal: null}`, `usage: null` on every chunk
 *   with include_usage, then a usage-only chunk with `choices: []`; overflow: 400
 *   `{error: {message, type: "invalid_request_error", param: "messages", code: "context_length_exceeded"}}`.
 * - `llamacpp` (tools/server/server.cpp): `choices` first, first chunk `delta: {role, content: null}`,
 *   SSE comment keep-alives while the prompt is read, `timings` on the last chunks; overflow: 400
 *   `{error: {code: 400, message: "request (M tokens) exceeds the available context size (N tokens), try increasing it", type: "exceed_context_size_error", n_prompt_tokens, n_ctx}}`.
 * - `vllm` (entrypoints/openai/serving_chat.py): `logprobs: null` in each choice, usage-only last
 *   chunk; overflow: 400 top-level `{object: "error", message: "This model's maximum context length is N tokens. However, you requested M tokens (P in the messages, C in the completion)…", type: "BadRequestError", param: null, code: 400}`.
 * - `ollama` (openai/openai.go): `system_fingerprint: "fp_ollama"`, finish_reason on the last text
 *   chunk, usage-only chunk with include_usage; errors as `{error: {message, type: "invalid_request_error", param: null, code: null}}`.
 * Each counts prompt tokens as `tokenRatio` × o200k (a tokenizer that counts more than o200k).
 */
export type ServerKind = 'openai' | 'llamacpp' | 'vllm' | 'ollama';
export const SERVER_KINDS: ServerKind[] = ['openai', 'llamacpp', 'vllm', 'ollama'];

export interface ServerScript {
  text: string;
  /** `length` to act as if max_tokens cut the answer. */
  finishReason?: 'stop' | 'length';
  /** Drop the connection after this many text chunks (a server killed mid-stream). */
  cutAfterChunks?: number;
  /** Keep-alive comments sent before the first chunk (llama.cpp while it reads the prompt). */
  keepAlives?: number;
  keepAliveEveryMs?: number;
  /** Send no usage at all (a server ignoring include_usage). */
  noUsage?: boolean;
}

export class FakeModelServer {
  readonly requests: any[] = [];
  private readonly scripts: ServerScript[] = [];
  /** Prompt tokens counted per o200k token (2.4: a tokenizer counting much more than o200k). */
  tokenRatio = 1;
  /** The context size the server enforces (prompt + max_tokens for vLLM/OpenAI, prompt for llama.cpp). */
  contextSize = 1_000_000;
  /** The model name the response carries (llama.cpp answers any name with its loaded model's alias). */
  servedModel?: string;

  private constructor(
    readonly kind: ServerKind,
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(kind: ServerKind): Promise<FakeModelServer> {
    let fake!: FakeModelServer;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => void fake.handle(req.url ?? '', chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    fake = new FakeModelServer(kind, server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`);
    return fake;
  }

  env(model = 'test-model'): Record<string, string> {
    return { OPENAI_BASE_URL: this.url, OPENAI_API_KEY: 'sk-local', OPENAI_MODEL: model };
  }

  script(...s: (ServerScript | string)[]): this {
    for (const x of s) this.scripts.push(typeof x === 'string' ? { text: x } : x);
    return this;
  }

  /** The prompt as this server's tokenizer counts it. */
  promptTokens(body: any): number {
    const text = (body.messages ?? []).map((m: any) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n');
    return Math.ceil((countTokens(text) + 4 * (body.messages?.length ?? 0)) * this.tokenRatio);
  }

  private async handle(url: string, body: any, res: ServerResponse): Promise<void> {
    if (url.endsWith('/models')) {
      const id = this.servedModel ?? 'test-model';
      const data =
        this.kind === 'ollama'
          ? [{ id, object: 'model', created: 1, owned_by: 'library' }]
          : [{ id, object: 'model', created: 1, owned_by: this.kind === 'vllm' ? 'vllm' : 'llamacpp' }];
      return json(res, 200, { object: 'list', data });
    }
    this.requests.push(body);
    const prompt = this.promptTokens(body);
    const maxTokens = body.max_tokens ?? 0;
    if (this.overflows(prompt, maxTokens)) return this.overflow(res, prompt, maxTokens);
    const s = this.scripts.shift() ?? { text: 'ok' };
    const model = this.servedModel ?? body.model;
    const id = `chatcmpl-${this.requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    for (let i = 0; i < (s.keepAlives ?? 0); i++) {
      // llama.cpp's keep-alive while the prompt is processed: an SSE comment the SDK never shows.
      res.write(': keep-alive\n\n');
      await sleep(s.keepAliveEveryMs ?? 20);
    }
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    const pieces = s.text.match(/\S+\s*|\s+/g) ?? [];
    const completion = Math.max(1, countTokens(s.text));
    const usage = { completion_tokens: completion, prompt_tokens: prompt, total_tokens: prompt + completion };
    const timings = { prompt_n: prompt, prompt_ms: 12.5, predicted_n: completion, predicted_ms: 40.1 };
    const withUsage = body.stream_options?.include_usage && !s.noUsage;
    const chunk = (delta: object, finish: string | null, extra: object = {}) => this.chunk(id, created, model, delta, finish, withUsage, extra);
    send(
      chunk(
        this.kind === 'llamacpp' ? { role: 'assistant', content: null } : { role: 'assistant', content: '', ...(this.kind === 'openai' && { refusal: null }) },
        null,
      ),
    );
    for (let i = 0; i < pieces.length; i++) {
      if (s.cutAfterChunks !== undefined && i >= s.cutAfterChunks) {
        await new Promise<void>((r) => res.write('', () => r()));
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      const last = i === pieces.length - 1;
      // Ollama puts finish_reason on the last text chunk; the others send an empty delta after it.
      send(chunk({ content: pieces[i] }, this.kind === 'ollama' && last ? (s.finishReason ?? 'stop') : null));
    }
    if (this.kind !== 'ollama') send(chunk({}, s.finishReason ?? 'stop', this.kind === 'llamacpp' ? { timings } : {}));
    if (withUsage) {
      const tail =
        this.kind === 'llamacpp'
          ? { choices: [], created, id, model, system_fingerprint: 'b6000-abc', object: 'chat.completion.chunk', usage, timings }
          : { id, object: 'chat.completion.chunk', created, model, ...(this.kind === 'ollama' && { system_fingerprint: 'fp_ollama' }), choices: [], usage };
      send(tail);
    }
    res.end('data: [DONE]\n\n');
  }

  private chunk(id: string, created: number, model: string, delta: object, finish: string | null, withUsage: boolean, extra: object): object {
    switch (this.kind) {
      case 'llamacpp':
        return {
          choices: [{ finish_reason: finish, index: 0, delta }],
          created,
          id,
          model,
          system_fingerprint: 'b6000-abc',
          object: 'chat.completion.chunk',
          ...extra,
        };
      case 'vllm':
        return { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
      case 'ollama':
        return { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_ollama', choices: [{ index: 0, delta, finish_reason: finish }] };
      default:
        return {
          id,
          object: 'chat.completion.chunk',
          created,
          model,
          system_fingerprint: 'fp_1',
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
          ...(withUsage && { usage: null }),
        };
    }
  }

  private overflows(prompt: number, maxTokens: number): boolean {
    // llama.cpp checks the prompt alone against n_ctx; OpenAI and vLLM check prompt + max_tokens.
    return this.kind === 'llamacpp' || this.kind === 'ollama' ? prompt > this.contextSize : prompt + maxTokens > this.contextSize;
  }

  private overflow(res: ServerResponse, prompt: number, maxTokens: number): void {
    const n = this.contextSize;
    switch (this.kind) {
      case 'llamacpp':
        return json(res, 400, {
          error: {
            code: 400,
            message: `request (${prompt} tokens) exceeds the available context size (${n} tokens), try increasing it`,
            type: 'exceed_context_size_error',
            n_prompt_tokens: prompt,
            n_ctx: n,
          },
        });
      case 'vllm':
        return json(res, 400, {
          object: 'error',
          message: `This model's maximum context length is ${n} tokens. However, you requested ${prompt + maxTokens} tokens (${prompt} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
          type: 'BadRequestError',
          param: null,
          code: 400,
        });
      case 'ollama':
        return json(res, 400, { error: { message: 'the input length exceeds the context length', type: 'invalid_request_error', param: null, code: null } });
      default:
        return json(res, 400, {
          error: {
            message: `This model's maximum context length is ${n} tokens. However, your messages resulted in ${prompt} tokens. Please reduce the length of the messages.`,
            type: 'invalid_request_error',
            param: 'messages',
            code: 'context_length_exceeded',
          },
        });
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
