import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { createRequire } from 'node:module';
import Bottleneck from 'bottleneck';
import { patchBottleneckForRedis7 } from './bottleneck-redis7.js';
import { Pacer, type PacerObserver, type PacerSettings } from './pacer.js';
import { windowLog } from './window.js';
import type { Store } from '../store/store.js';

/** What the pacers report to (the metrics implement it): calls and 429s per platform, queue depth. */
export interface PacingMetrics {
  pacerObserver(platform: string): PacerObserver;
  addQueue(depth: () => number): void;
}

export type CreatePacer = (platform: string, settings: Omit<PacerSettings, 'cluster'>) => Pacer;

/**
 * Builds the pacers adapters wrap their clients with: clustered through Redis when the store
 * is Redis (several instances share each platform's budgets), counted in the metrics.
 */
export function pacerFactory(o: { redisUrl?: string; metrics?: PacingMetrics; shared?: Store }): { create: CreatePacer; close(): Promise<void> } {
  let connection: Bottleneck.IORedisConnection | undefined;
  const pacers: Pacer[] = [];
  return {
    create(platform, settings) {
      if (o.redisUrl && !connection) {
        patchBottleneckForRedis7();
        // ioredis parses the URL itself (TLS, db, auth); Bottleneck disconnects the client on close.
        // Required here, not imported: a process without Redis never loads ioredis (idle RSS, issue 19).
        const { Redis } = createRequire(import.meta.url)('ioredis') as { Redis: new (url: string, o?: RedisOptions) => RedisClient };
        connection = new Bottleneck.IORedisConnection({ client: new Redis(o.redisUrl) });
      }
      const pacer = new Pacer(
        {
          ...settings,
          cluster: connection && { id: `parley:${platform}`, connection },
          // Per-minute budgets in the shared store's sliding windows, so every instance counts one log.
          window: o.shared && windowLog(o.shared, `pacing:${platform}`),
        },
        o.metrics?.pacerObserver(platform),
      );
      o.metrics?.addQueue(() => pacer.queued());
      pacers.push(pacer);
      return pacer;
    },
    async close() {
      await Promise.allSettled(pacers.map((p) => p.stop()));
      await connection?.disconnect(false);
    },
  };
}
