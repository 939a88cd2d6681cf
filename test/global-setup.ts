import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';

/**
 * Tests use the Redis on 127.0.0.1:6379 that development and CI machines run; if none
 * answers, start one (no persistence). Each test run uses its own key prefix.
 */
function redisAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port: 6379 });
    s.setTimeout(500);
    s.once('connect', () => {
      s.write('PING\r\n');
    });
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

export default async function setup(): Promise<void> {
  if (await redisAnswers()) return;
  execFileSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no']);
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('Redis did not start on 127.0.0.1:6379 (install redis-server)');
}
