import type Keyv from 'keyv';
import { createHash } from 'node:crypto';
import type { Store } from '../store/store.js';
import { exclusive } from '../store/exclusive.js';

/**
 * Where a person's words were written, so deleting them (`/parley forget`, `parley forget`, the
 * HTTP API's DELETE) reads a few index records instead of scanning the store.
 *
 * Two records, both written where the data is written:
 * - per conversation: every key written for it (namespace + key), with who it belongs to;
 * - per person (`platform:userId`): the conversations they took part in.
 * Each entry carries its own expiry (the data's TTL), so the index outlives exactly what it points to.
 */
export interface IndexedKey {
  /** Store namespace (answers, votes, api-tasks, answer-cache, query-rewrites, analytics). */
  ns: string;
  key: string;
  /** The person (`platform:userId`) whose words it holds. */
  by: string;
  /** When the data it points to expires (ms since epoch); 0 = never. */
  exp: number;
}

interface PersonConversation {
  conversation: string;
  exp: number;
}

const INDEXED_SINCE = 'indexed-since';

/** The expiry of an entry whose data never expires (HISTORY_TTL_DAYS=0, for instance). */
const FOREVER = 0;

/** The id a question-list entry carries instead of a name: whose text it is, in which conversation (pseudonymous, deleted with the text). */
export function textSource(person: string, conversation: string): string {
  return createHash('sha256').update(`${person}\n${conversation}`).digest('hex').slice(0, 16);
}

export class PrivacyIndex {
  private readonly byConversation: Keyv<IndexedKey[]>;
  private readonly byPerson: Keyv<PersonConversation[]>;
  private readonly meta: Keyv<number>;
  private started?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.byConversation = store.namespace<IndexedKey[]>('privacy-conversation');
    this.byPerson = store.namespace<PersonConversation[]>('privacy-person');
    this.meta = store.namespace<number>('privacy-meta');
  }

  /**
   * Since when this store's writes are indexed: 0 when it was indexed from its first question,
   * undefined when nothing was indexed yet. Before that time a deletion also scans (legacy data).
   */
  indexedSince(): Promise<number | undefined> {
    return this.meta.get(INDEXED_SINCE);
  }

  /** Records, once, whether this store held analytics written before the index existed. */
  private start(): Promise<void> {
    return (this.started ??= (async () => {
      if ((await this.meta.get(INDEXED_SINCE)) !== undefined) return;
      // Questions are indexed before their analytics are written: analytics already here predate the index.
      let older = false;
      for await (const _ of this.store.entries('analytics')) {
        older = true;
        break;
      }
      await this.meta.set(INDEXED_SINCE, older ? this.now() : 0);
    })().catch((err) => {
      this.started = undefined;
      throw err;
    }));
  }

  /** Records that `keys` (each with its TTL in ms; undefined = no expiry) were written for `person` in `conversation`. */
  async note(person: string, conversation: string, keys: { ns: string; key: string; ttlMs?: number }[]): Promise<void> {
    if (!keys.length) return;
    await this.start();
    const now = this.now();
    const fresh = keys.map((k) => ({ ns: k.ns, key: k.key, by: person, exp: k.ttlMs ? now + k.ttlMs : FOREVER }));
    await this.locked(`c:${conversation}`, async () => {
      const list = live(await this.byConversation.get(conversation), now).filter((e) => !fresh.some((f) => f.ns === e.ns && f.key === e.key && f.by === e.by));
      list.push(...fresh);
      await this.byConversation.set(conversation, list, ttlOf(list, now));
    });
    const exp = fresh.some((f) => f.exp === FOREVER) ? FOREVER : Math.max(...fresh.map((f) => f.exp));
    await this.locked(`p:${person}`, async () => {
      const list = live(await this.byPerson.get(person), now);
      const mine = list.find((e) => e.conversation === conversation);
      if (mine) mine.exp = mine.exp === FOREVER || exp === FOREVER ? FOREVER : Math.max(mine.exp, exp);
      else list.push({ conversation, exp });
      await this.byPerson.set(person, list, ttlOf(list, now));
    });
  }

  async keysOf(conversation: string): Promise<IndexedKey[]> {
    return live(await this.byConversation.get(conversation), this.now());
  }

  async conversationsOf(person: string): Promise<string[]> {
    return live(await this.byPerson.get(person), this.now()).map((e) => e.conversation);
  }

  /** Drops the entries of `conversation` that `keep` rejects (all of them without `keep`). */
  async dropKeys(conversation: string, keep?: (e: IndexedKey) => boolean): Promise<void> {
    await this.locked(`c:${conversation}`, async () => {
      const list = keep ? live(await this.byConversation.get(conversation), this.now()).filter(keep) : [];
      if (list.length) await this.byConversation.set(conversation, list, ttlOf(list, this.now()));
      else await this.byConversation.delete(conversation);
    });
  }

  /** Forgets that `person` took part in `conversations` (all of them without a list). */
  async dropConversations(person: string, conversations?: string[]): Promise<void> {
    await this.locked(`p:${person}`, async () => {
      const list = conversations ? live(await this.byPerson.get(person), this.now()).filter((e) => !conversations.includes(e.conversation)) : [];
      if (list.length) await this.byPerson.set(person, list, ttlOf(list, this.now()));
      else await this.byPerson.delete(person);
    });
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    // Same hold as the ledger's per-person records: a turn waits a few seconds for it at most.
    return exclusive(this.store, `privacy:${key}`, fn, { holdMs: 10_000, maxWaitMs: 4_000 });
  }
}

function live<T extends { exp: number }>(list: T[] | undefined, now: number): T[] {
  return (list ?? []).filter((e) => e.exp === FOREVER || e.exp > now);
}

/** The record lives as long as its longest-lived entry. */
function ttlOf(list: { exp: number }[], now: number): number | undefined {
  if (list.some((e) => e.exp === FOREVER)) return undefined;
  return Math.max(1, Math.max(...list.map((e) => e.exp)) - now);
}
