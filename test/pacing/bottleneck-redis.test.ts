import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchBottleneckForRedis7 } from '../../src/pacing/bottleneck-redis7.js';
import { REDIS_PORT, uniquePrefix } from '../helpers/redis.js';

/**
 * Bottleneck clustering on a real Redis 7: after the limiter's settings key expires, or its
 * client is dropped, the limiter must recover and keep running jobs.
 */
let redis: Redis;
beforeAll(() => {
  redis = new Redis({ host: '127.0.0.1', port: REDIS_PORT, lazyConnect: false });
});
afterAll(async () => {
  await redis.quit();
});

function limiter(id: string, connection: InstanceType<typeof Bottleneck.IORedisConnection>) {
  return new Bottleneck({ id, datastore: 'ioredis', connection, maxConcurrent: 1, minTime: 10, clearDatastore: true, timeout: 60_000 });
}

async function scenario(patched: boolean, breakIt: (id: string) => Promise<void>): Promise<unknown> {
  if (patched) patchBottleneckForRedis7();
  const id = uniquePrefix(patched ? 'bn-fixed' : 'bn-stock');
  const connection = new Bottleneck.IORedisConnection({ clientOptions: { host: '127.0.0.1', port: REDIS_PORT } });
  const l = limiter(id, connection);
  try {
    await l.ready();
    expect(await l.schedule(async () => 'before')).toBe('before');
    await breakIt(id);
    return await Promise.race([l.schedule(async () => 'after'), new Promise((_, reject) => setTimeout(() => reject(new Error('limiter hung')), 5_000))]).catch(
      (e: Error) => e,
    );
  } finally {
    await l.disconnect(false);
  }
}

const expireSettings = async (id: string) => {
  // What Redis does when the limiter's keys time out: the settings key disappears.
  await redis.del(`b_${id}_settings`);
};
const dropClient = async (id: string) => {
  // What happens when a client stalls past clientTimeout: others unregister it.
  const clients = await redis.zrange(`b_${id}_client_last_seen`, 0, -1);
  expect(clients.length).toBeGreaterThan(0);
  await redis.del(`b_${id}_client_last_seen`, `b_${id}_client_last_registered`, `b_${id}_client_num_queued`);
};

describe('Bottleneck on Redis 7', () => {
  it('reproduces the upstream failure without the fix (the fix is needed here)', async () => {
    const info = await redis.info('server');
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1]);
    if (major < 7) return; // the bug needs Redis 7's "ERR " prefix
    const expired = await scenario(false, expireSettings);
    expect(expired).toBeInstanceOf(Error);
    expect((expired as Error).message).toMatch(/SETTINGS_KEY_NOT_FOUND/);
    const dropped = await scenario(false, dropClient);
    expect(dropped).toBeInstanceOf(Error);
    expect((dropped as Error).message).toMatch(/UNKNOWN_CLIENT/);
  });

  it('recovers after the settings key expired', async () => {
    expect(await scenario(true, expireSettings)).toBe('after');
  });

  it('recovers after its client was dropped as timed out', async () => {
    expect(await scenario(true, dropClient)).toBe('after');
  });
});
