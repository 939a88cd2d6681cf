import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The built CLI, as `npm start` and the `parley` bin run it (`npm test` builds first). */
export const CLI = join(resolve(import.meta.dirname, '../..'), 'dist/cli/main.js');

/** Starts `parley <args>` as a real process with exactly `env` (plus PATH). */
export function spawnParley(args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
  return spawn(process.execPath, [CLI, ...args], { cwd, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', ...env } });
}

/** Polls `check` until it returns something truthy, or fails naming `what`. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
