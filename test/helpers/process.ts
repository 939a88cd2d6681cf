import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
/** The built CLI, as `npm start` and the `parley` bin run it (`npm test` builds first). */
export const CLI = join(ROOT, 'dist/cli/main.js');

/** The CLI's path, or a clear error when it has not been built. */
function builtCli(): string {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
  return CLI;
}

/** Starts `parley <args>` as a real process with exactly `env` (plus PATH). */
export function spawnParley(args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  return spawn(process.execPath, [builtCli(), ...args], { cwd, stdio: 'ignore', env: { PATH: process.env.PATH ?? '', ...env } });
}

/**
 * Runs `parley <args>` to its end, as an operator would, with exactly PATH, HOME and `o.env`
 * (undefined values left out), and `o.input` on stdin (closed either way). Resolves with the
 * exit code (-1 when a signal ended it) and the output.
 */
export function runParley(
  args: string[],
  o: { cwd: string; env?: Record<string, string | undefined>; input?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = builtCli();
  const env = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, HOME: process.env.HOME, ...o.env }).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: o.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    // A CLI that exits without reading its input closes the pipe: that is for the test to judge, not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(o.input);
  });
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

/** A temporary working directory laid out like a fresh clone's (the bundled `examples/knowledge`), for CLI runs. */
export function freshCloneDir(name: string): string {
  const cwd = mkdtempSync(join(tmpdir(), `parley-${name}-`));
  mkdirSync(join(cwd, 'examples'));
  cpSync(join(ROOT, 'examples/knowledge'), join(cwd, 'examples/knowledge'), { recursive: true });
  return cwd;
}
