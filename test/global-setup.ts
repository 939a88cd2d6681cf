import type { TestProject } from 'vitest/node';
import { startOwnRedis } from './helpers/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test run's own Redis (`redis://127.0.0.1:PORT`); see helpers/redis.ts. */
    redisUrl: string;
  }
}

/** Starts the run's own Redis on a free port and stops it when the run ends. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startOwnRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}
