import { randomUUID } from 'node:crypto';

/** The development/CI Redis; `global-setup.ts` makes sure it answers. */
export const REDIS_URL = 'redis://127.0.0.1:6379/0';

/** A key prefix unique to one test, so parallel test files never see each other's keys. */
export function uniquePrefix(name = 'test'): string {
  return `parley-test:${name}:${randomUUID().slice(0, 8)}`;
}
