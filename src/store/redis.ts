import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * The store's Redis connection (ioredis, the one Redis client Parley uses; pacing uses it too).
 *
 * Outages fail fast instead of hanging a turn: no offline queue (a command while disconnected
 * fails at once), commands unanswered after STORE_COMMAND_TIMEOUT_MS fail, and commands in
 * flight when the connection drops fail at once rather than being resent after a reconnect
 * (a resent INCRBY would count twice). ioredis keeps reconnecting in the background.
 */
export const STORE_COMMAND_TIMEOUT_MS = 2_000;
/** Reconnect backoff cap: a returning Redis is used again within about this long. */
const MAX_RECONNECT_DELAY_MS = 1_000;
/** How long the first connection may take before start fails. */
const CONNECT_TIMEOUT_MS = 5_000;

export function storeRedisOptions(): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: STORE_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(50 * attempt, MAX_RECONNECT_DELAY_MS),
  };
}

/** Opens the connection; rejects (and stops reconnecting) if Redis does not answer at start. */
export async function connectRedis(url: string): Promise<Redis> {
  const client = new Redis(url, storeRedisOptions());
  client.on('error', () => {
    // Connection errors surface on the commands that fail; ioredis reconnects by itself.
  });
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return client;
}

/** How the adapter writes keys: `namespace::key`, as @keyv/redis did, so existing data stays readable. */
const SEPARATOR = '::';
/** Keys per SCAN step while iterating a namespace. */
const SCAN_COUNT = 200;

/**
 * A Keyv storage adapter over one shared ioredis connection. Keyv serialises values and keeps
 * `expires`; this sets the Redis TTL too (PX), so expired values leave Redis by themselves.
 * Errors are thrown to Keyv (which rethrows them: the store uses `throwOnErrors`).
 */
export class IORedisKeyvAdapter extends EventEmitter {
  namespace?: string;
  // Keyv offers `iterator()` only for adapters whose dialect it knows.
  readonly opts = { dialect: 'redis', url: 'redis://' };

  constructor(private readonly client: Redis) {
    super();
  }

  private key(k: string): string {
    return this.namespace ? `${this.namespace}${SEPARATOR}${k}` : k;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(this.key(key))) ?? undefined;
  }

  async getMany(keys: string[]): Promise<(string | undefined)[]> {
    if (!keys.length) return [];
    const values = await this.client.mget(keys.map((k) => this.key(k)));
    return values.map((v) => v ?? undefined);
  }

  async set(key: string, value: string, ttl?: number): Promise<void> {
    if (ttl && ttl > 0) await this.client.set(this.key(key), value, 'PX', Math.max(1, Math.round(ttl)));
    else await this.client.set(this.key(key), value);
  }

  async delete(key: string): Promise<boolean> {
    return (await this.client.del(this.key(key))) > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    if (!keys.length) return false;
    return (await this.client.del(...keys.map((k) => this.key(k)))) > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.client.exists(this.key(key))) > 0;
  }

  async clear(): Promise<void> {
    for await (const keys of this.scan()) if (keys.length) await this.client.del(...keys);
  }

  async *iterator(namespace?: string): AsyncGenerator<[string, string | undefined]> {
    const prefix = namespace ? `${namespace}${SEPARATOR}` : '';
    for await (const keys of this.scan(namespace)) {
      if (!keys.length) continue;
      const values = await this.client.mget(keys);
      for (let i = 0; i < keys.length; i++) yield [keys[i]!.slice(prefix.length), values[i] ?? undefined];
    }
  }

  private async *scan(namespace = this.namespace): AsyncGenerator<string[]> {
    const match = namespace ? `${escapeGlob(namespace)}${SEPARATOR}*` : '*';
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT, 'TYPE', 'string');
      cursor = next;
      yield keys;
    } while (cursor !== '0');
  }

  async disconnect(): Promise<void> {
    // The connection is shared by every namespace; the store closes it.
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
