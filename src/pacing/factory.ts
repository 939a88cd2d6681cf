import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import type { Metrics } from '../ops/metrics.js';
import { patchBottleneckForRedis7 } from './bottleneck-redis7.js';
import { Pacer, type PacerSettings } from './pacer.js';
import { RedisWindowLog } from './window.js';

export type CreatePacer = (platform: string, settings: Omit<PacerSettings, 'cluster'>) => Pacer;

/**
 * Builds the pacers adapters wrap their clients with: clustered through Redis when the store
 * is Redis (several instances share each platform's budgets), counted in the metrics.
 */
export function pacerFactory(o: { redisUrl?: string; metrics?: Metrics }): { create: CreatePacer; close(): Promise<void> } {
  let connection: Bottleneck.IORedisConnection | undefined;
  let redis: Redis | undefined;
  const pacers: Pacer[] = [];
  return {
    create(platform, settings) {
      if (o.redisUrl && !connection) {
        patchBottleneckForRedis7();
        // One client for the clustered limiters and the shared budgets' window logs.
        redis = new Redis(redisOptions(o.redisUrl));
        connection = new Bottleneck.IORedisConnection({ client: redis });
      }
      const pacer = new Pacer(
        {
          ...settings,
          cluster: connection && { id: `parley:${platform}`, connection },
          window: redis && new RedisWindowLog(redis, `parley:${platform}:window`),
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
      if (redis && redis.status !== 'end') redis.disconnect();
    },
  };
}

function redisOptions(url: string): { host: string; port: number; db: number; password?: string; username?: string; tls?: object } {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.protocol === 'rediss:' && { tls: {} }),
  };
}
