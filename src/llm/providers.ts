import type { Settings, ProviderSettings } from '../config/settings.js';
import { LlmError, describe } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import { LlmClient, type ChatEvent, type ChatModelClient, type ChatRequest } from './client.js';

/**
 * Several named OpenAI-compatible providers behind one ChatModelClient. Each model is sent to
 * its provider (under the provider's id for it); when a model fails before its first token
 * (after that provider's own retries), its fallbacks are tried in order, on whichever provider
 * serves each. Settings are read per request, so a config reload applies to the next turn.
 */
export class ProviderRouter implements ChatModelClient {
  private readonly clients = new Map<string, { settings: ProviderSettings; signature: string; client: ChatModelClient }>();

  constructor(
    private readonly settings: () => Settings,
    private readonly log: Logger,
    /** Builds the client for one provider (tests pass shorter backoffs). */
    private readonly factory: (p: ProviderSettings, log: Logger) => ChatModelClient = (p, log) =>
      new LlmClient({
        baseURL: p.baseURL,
        apiKey: p.apiKey,
        connectTimeoutMs: p.connectTimeoutMs,
        firstTokenTimeoutMs: p.firstTokenTimeoutMs,
        idleTimeoutMs: p.idleTimeoutMs,
        maxRetries: p.maxRetries,
        log,
      }),
  ) {}

  /** The provider and the provider's model id that serve `model`. */
  resolve(model: string): { provider: ProviderSettings; id: string } | undefined {
    const s = this.settings();
    const entry = s.models.get(model);
    const provider = s.providers.get(entry?.provider ?? s.defaultProvider);
    return provider && !provider.missingKeyEnv ? { provider, id: entry?.id ?? model } : undefined;
  }

  /** Whether any model of `profile`'s chain (model, then fallbacks) has a usable provider. */
  canServe(profile: { model?: string; fallbackModels?: string[] }): boolean {
    return !!profile.model && [profile.model, ...(profile.fallbackModels ?? [])].some((m) => this.resolve(m) !== undefined);
  }

  stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
    // No fallback: the provider's own stream, without a generator of this router around it
    // (which every chunk passed through, and a waiting turn held; issue 19). Its errors stand as
    // they are, as below when the last model of a chain fails.
    const target = req.fallbackModels?.some((m) => m !== req.model) ? undefined : this.resolve(req.model);
    if (target) return this.client(target.provider).stream({ ...req, model: target.id, fallbackModels: [] });
    return this.streamChain(req);
  }

  private async *streamChain(req: ChatRequest): AsyncGenerator<ChatEvent> {
    const chain = [req.model, ...(req.fallbackModels ?? [])].filter((m, i, all) => all.indexOf(m) === i);
    let lastError: unknown;
    for (const [i, model] of chain.entries()) {
      const target = this.resolve(model);
      if (!target) {
        lastError = new LlmError('llm_not_configured', `no provider serves model "${model}"`, { retryable: false });
        continue;
      }
      let started = false;
      try {
        for await (const ev of this.client(target.provider).stream({ ...req, model: target.id, fallbackModels: [] })) {
          started = true;
          yield ev;
        }
        return;
      } catch (err) {
        // After text was shown, another model would repeat it: the failure stands.
        if (started || !(err instanceof LlmError) || err.code === 'llm_aborted') throw err;
        lastError = err;
        // A prompt too long for this model is the caller's to shorten (a fallback may be no larger).
        if (err.code === 'llm_context_overflow') throw err;
        if (i < chain.length - 1)
          this.log.warn({ model, provider: target.provider.name, code: err.code, err: describe(err) }, 'model failed; trying the next fallback');
      }
    }
    throw lastError ?? new LlmError('llm_not_configured', 'no model to try', { retryable: false });
  }

  private client(p: ProviderSettings): ChatModelClient {
    const known = this.clients.get(p.name);
    // The same settings object (no reload since): nothing to compare.
    if (known?.settings === p) return known.client;
    const signature = JSON.stringify([p.baseURL, p.apiKey, p.connectTimeoutMs, p.firstTokenTimeoutMs, p.idleTimeoutMs, p.maxRetries]);
    if (known?.signature === signature) {
      known.settings = p;
      return known.client;
    }
    const client = this.factory(p, this.log.child({ provider: p.name }));
    this.clients.set(p.name, { settings: p, signature, client });
    return client;
  }
}
