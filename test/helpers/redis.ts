import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';

/** The test run's own Redis, started by `global-setup.ts` on a free port (never 6379's). */
export const REDIS_BASE_URL = inject('redisUrl');
export const REDIS_PORT = Number(new URL(REDIS_BASE_URL).port);
/** Database 0 of that Redis. */
export const REDIS_URL = `${REDIS_BASE_URL}/0`;
/** Database `n` of that Redis, for tests that need one to themselves (they may flush it). */
export const redisDbUrl = (n: number): string => `${REDIS_BASE_URL}/${n}`;

/** A key prefix unique to one test, so parallel test files never see each other's keys. */
export function uniquePrefix(name = 'test'): string {
  return `parley-test:${name}:${randomUUID().slice(0, 8)}`;
}
