import type Keyv from 'keyv';
import type { Logger } from '../kernel/logger.js';
import type { Store } from '../store/store.js';
import { sha256 } from './analyzer.js';

/** Turns texts into vectors (an OpenAI-compatible `/v1/embeddings` endpoint). */
export interface Embedder {
  readonly model: string;
  embed(texts: string[]): Promise<number[][]>;
}

/** `POST {baseURL}/embeddings` through fetch: the one call the SDK adds nothing to here. */
export class HttpEmbedder implements Embedder {
  constructor(private readonly o: { baseURL: string; apiKey?: string; model: string; timeoutMs?: number; batchSize?: number }) {}

  get model(): string {
    return this.o.model;
  }

  async embed(texts: string[]): Promise<number[][]> {
    const out: number[][] = [];
    const batch = this.o.batchSize ?? 64;
    for (let i = 0; i < texts.length; i += batch) {
      const input = texts.slice(i, i + batch);
      const res = await fetch(`${this.o.baseURL.replace(/\/+$/, '')}/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {}) },
        body: JSON.stringify({ model: this.o.model, input }),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
      });
      if (!res.ok) throw new Error(`embeddings request failed with HTTP ${res.status}`);
      const body = (await res.json()) as { data: { index: number; embedding: number[] }[] };
      const sorted = [...body.data].sort((a, b) => a.index - b.index);
      if (sorted.length !== input.length) throw new Error(`embeddings: asked for ${input.length}, got ${sorted.length}`);
      out.push(...sorted.map((d) => d.embedding));
    }
    return out;
  }
}

/**
 * Embeddings cached in the store by model + content hash, so unchanged text is never embedded
 * twice (across re-indexing and restarts, and across instances sharing the store).
 */
export class CachedEmbedder {
  private readonly kv: Keyv<number[]>;
  /** Texts actually sent to the embedder (for tests and the index log). */
  embeddedCount = 0;
  constructor(
    private readonly inner: Embedder,
    store: Store,
    private readonly log: Logger,
  ) {
    this.kv = store.namespace<number[]>('embeddings');
  }

  get model(): string {
    return this.inner.model;
  }

  /**
   * A question's embedding: never written to the store. Pages are the team's documents, but a
   * question is what a person wrote, and a vector kept under its hash would outlive
   * `/parley forget` (it cannot be found from the person). Questions are embedded once per turn anyway.
   */
  async embedQuery(text: string): Promise<number[]> {
    const [vector] = await this.inner.embed([text]);
    this.embeddedCount += 1;
    return vector!;
  }

  /** Pages' passages, cached by model + content hash. */
  async embed(texts: string[]): Promise<number[][]> {
    const keys = texts.map((t) => `${this.inner.model}:${sha256(t)}`);
    const cached = await Promise.all(keys.map((k) => this.kv.get(k).catch(() => undefined)));
    const missing = texts.map((t, i) => (cached[i] ? -1 : i)).filter((i) => i >= 0);
    if (missing.length) {
      const fresh = await this.inner.embed(missing.map((i) => texts[i]!));
      this.embeddedCount += missing.length;
      await Promise.all(
        missing.map(async (i, j) => {
          cached[i] = fresh[j]!;
          await this.kv.set(keys[i]!, fresh[j]!).catch((err) => this.log.warn({ err: String(err) }, 'caching an embedding failed'));
        }),
      );
    }
    return cached as number[][];
  }
}

export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}
