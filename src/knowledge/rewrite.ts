import type Keyv from 'keyv';
import type { ChatModelClient } from '../llm/client.js';
import { describe, LlmError } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';
import type { SideCall, Turn } from '../kernel/types.js';
import type { Store } from '../store/store.js';
import type { RewriteSettings } from '../config/knowledge.js';
import { PrivacyIndex } from '../store/person-index.js';
import { sha256, words } from './analyzer.js';

/**
 * Query rewriting by the model (issue 16), as LlamaIndex's condense-question chat engine and
 * Onyx's query rephrasing do it: a follow-up ("and how much does it cost?") or a chatty question
 * becomes one standalone search query, written by the model from the message and the recent
 * thread. One short call (temperature 0, a few dozen tokens), cached, bounded by a timeout; a
 * failure costs the turn nothing but the rewrite. The caller fuses the query's passages with the
 * question's own (src/knowledge/middleware.ts), so a bad rewrite cannot lose a good raw hit.
 */

export const REWRITE_PROMPT = `You turn a customer's latest message into one search query for the product's help-centre search.
- Use the conversation only to fill in what the latest message leaves out (the feature, plan, page or error it refers to).
- Keep the product's names, features, error messages and numbers; drop greetings, thanks and chatter.
- Write the query in the language of the latest message.
- Do not answer the question and do not add facts.
Reply with the query alone, on one line, without quotes, in at most 20 words.`;

/** Enough for a 20-word query in any script; a reply that needs more is not a query. */
const REWRITE_MAX_TOKENS = 60;
/** A longer reply is an answer or an explanation, not a query: not used. */
const MAX_QUERY_CHARS = 300;
/** Each earlier turn shown to the rewriter is cut to this: the subject is at the start, and the call must stay small. */
const TURN_CHARS = 400;
/** Rewrites are kept this long: the same question in the same thread context is rewritten the same way. */
const CACHE_TTL_MS = 24 * 3_600_000;

/**
 * When to ask the model for a standalone query: `auto` for follow-ups in a thread (they leave out
 * their subject) and for questions whose own retrieval is not confident (chatty or in everyday
 * words); a confident first question is searched as asked, at no cost.
 */
export function wantsRewrite(enabled: RewriteSettings['enabled'], followUp: boolean, confident: boolean): boolean {
  if (enabled === 'auto') return followUp || !confident;
  return enabled;
}

export interface RewriteRequest {
  question: string;
  /** Earlier turns of the thread (oldest first); the last `turns` user turns and the answers between them are shown. */
  history: readonly Turn[];
  turns: number;
  model: string;
  fallbackModels?: string[];
  timeoutMs: number;
  log: Logger;
  /** Whose words the cached rewrite holds (`platform:userId`) and where: `/parley forget` deletes it with them. */
  askedBy?: { person: string; conversation: string };
}

export interface RewriteResult {
  /** The standalone query; undefined when the call failed, timed out or returned nothing usable, or it only repeats the question. */
  query?: string;
  /** The call made (absent when the cache answered or the call failed): booked with the turn. */
  call?: SideCall;
  cached: boolean;
}

export class QueryRewriter {
  private readonly kv: Keyv<string>;
  private readonly index: PrivacyIndex;
  /** Failures are news once per model per process (at warn); after that they are logged at debug. */
  private readonly warned = new Set<string>();
  /** Calls made (for tests and the debug log). */
  calls = 0;

  constructor(
    private readonly llm: ChatModelClient,
    store: Store,
  ) {
    this.kv = store.namespace<string>(REWRITE_NAMESPACE);
    this.index = new PrivacyIndex(store);
  }

  async rewrite(r: RewriteRequest): Promise<RewriteResult> {
    const thread = threadOf(r.history, r.turns);
    // Normalised as the analyzer sees text: "How much does it cost??" and "how much does it cost" are one question.
    const key = sha256(`${r.model}\n${words(thread).join(' ')}\n${words(r.question).join(' ')}`);
    const cached = await this.kv.get(key).catch((err: unknown) => {
      r.log.warn({ err: describe(err) }, 'query rewrite cache read failed');
      return undefined;
    });
    if (cached !== undefined) return { query: useful(cached, r.question), cached: true };

    const started = Date.now();
    let text = '';
    let call: SideCall | undefined;
    try {
      this.calls++;
      for await (const ev of this.llm.stream({
        model: r.model,
        fallbackModels: r.fallbackModels,
        messages: [
          { role: 'system', content: REWRITE_PROMPT },
          { role: 'user', content: `${thread ? `Conversation:\n${thread}\n\n` : ''}Latest message: ${r.question}\n\nSearch query:` },
        ],
        maxTokens: REWRITE_MAX_TOKENS,
        temperature: 0,
        signal: AbortSignal.timeout(r.timeoutMs),
      })) {
        if (ev.type === 'delta') text += ev.text;
        else call = { purpose: 'query-rewrite', model: ev.model, usage: ev.usage, latencyMs: Date.now() - started };
      }
    } catch (err) {
      const code = err instanceof LlmError ? err.code : 'internal';
      const first = !this.warned.has(r.model);
      this.warned.add(r.model);
      r.log[first ? 'warn' : 'debug'](
        { err: describe(err), code, model: r.model, timeoutMs: r.timeoutMs },
        'query rewrite failed; searching with the question as asked',
      );
      return { cached: false };
    }
    const query = clean(text);
    try {
      await this.kv.set(key, query, CACHE_TTL_MS);
      if (r.askedBy) await this.index.note(r.askedBy.person, r.askedBy.conversation, [{ ns: REWRITE_NAMESPACE, key, ttlMs: CACHE_TTL_MS }]);
    } catch (err) {
      r.log.warn({ err: describe(err) }, 'query rewrite cache write failed');
    }
    return { query: useful(query, r.question), call, cached: false };
  }
}

/** Where rewrites are cached (deleted by `/parley forget` with the asker's words). */
export const REWRITE_NAMESPACE = 'query-rewrites';

/** The recent thread as the rewriter reads it: the last `turns` user turns and the answers after them, each cut short. */
export function threadOf(history: readonly Turn[], turns: number): string {
  if (turns <= 0) return '';
  let users = 0;
  let from = history.length;
  while (from > 0 && users < turns) if (history[--from]!.role === 'user') users++;
  return history
    .slice(from)
    .map((t) => `${t.role === 'user' ? 'Customer' : 'Assistant'}: ${clip(t.content.replace(/\s+/g, ' ').trim())}`)
    .join('\n');
}

function clip(s: string): string {
  return s.length <= TURN_CHARS ? s : `${s.slice(0, TURN_CHARS - 1)}…`;
}

/** The query in a reply: its first non-empty line, without a "Query:" label or quotes; empty when it is no query. */
export function clean(reply: string): string {
  const line = reply
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean);
  if (!line) return '';
  const query = line
    .replace(/^(?:search )?query\s*[:：]\s*/i, '')
    .replace(/^["'“”「]+|["'“”」]+$/g, '')
    .trim();
  return query.length > MAX_QUERY_CHARS ? '' : query;
}

/** The rewrite, unless it is empty or says nothing the question does not (same words): then one search is enough. */
function useful(query: string, question: string): string | undefined {
  if (!query) return undefined;
  const same = words(query).join(' ') === words(question).join(' ');
  return same ? undefined : query;
}
