import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

/**
 * A Redis of the test run's own: `redis-server` on a free loopback port, keeping nothing on
 * disk. Tests and the bench never touch a Redis they did not start (the one on 6379 may hold
 * someone's data).
 */
export interface OwnRedis {
  port: number;
  /** `redis://127.0.0.1:PORT` (append `/N` for database N). */
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.setTimeout(500);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Starts a private redis-server; resolves once it answers PING. */
export async function startOwnRedis(port?: number): Promise<OwnRedis> {
  for (let attempt = 0; ; attempt++) {
    const p = port ?? (await freePort());
    const child: ChildProcess = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    let exited = false;
    const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
    child.once('error', () => (exited = true));
    for (let i = 0; i < 100 && !exited; i++) {
      if (await answers(p)) {
        return {
          port: p,
          url: `redis://127.0.0.1:${p}`,
          stop: async () => {
            if (!exited) child.kill('SIGKILL');
            await exit;
          },
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    // A port taken between choosing and binding: try another (unless the caller asked for this one).
    if (port !== undefined || attempt >= 3) throw new Error(`redis-server did not start on 127.0.0.1:${p} (install redis-server)`);
  }
}
