import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REST, Routes, ShardingManager } from 'discord.js';
import { cliLogger, configOrExit, EXIT_CONFIG, fail } from './common.js';

const usage = 'parley shards [--shards N]';

/**
 * `parley shards`: Discord sharding for large bots (Discord requires it past 2,500 servers).
 * discord.js's ShardingManager runs one `parley start --platforms discord --port 0` process per
 * shard; discord.js in each child reads its shard ids from the manager (SHARDS/SHARD_COUNT).
 * Slack and the HTTP API run elsewhere (a plain `parley start`), on the same Redis store.
 */
export async function shards(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { shards: { type: 'string' } } });
  const config = configOrExit();
  if (!config.discord) fail(`DISCORD_TOKEN is not set: there is nothing to shard\nusage: ${usage}`, EXIT_CONFIG);
  const log = cliLogger(config, false);
  const requested = values.shards === undefined ? undefined : Number(values.shards);
  if (requested !== undefined && !(Number.isInteger(requested) && requested > 0))
    fail(`--shards: expected a whole number above 0\nusage: ${usage}`, EXIT_CONFIG);
  // Ask the configured API (DISCORD_API_URL, e.g. a proxy) how many shards Discord recommends.
  const rest = new REST(config.discord.apiUrl ? { api: config.discord.apiUrl } : {}).setToken(config.discord.token);
  const totalShards = requested ?? ((await rest.get(Routes.gatewayBot())) as { shards: number }).shards;
  const manager = new ShardingManager(fileURLToPath(new URL('./main.js', import.meta.url)), {
    token: config.discord.token,
    totalShards,
    mode: 'process',
    respawn: true,
    shardArgs: ['start', '--platforms', 'discord', '--port', '0'],
  });
  manager.on('shardCreate', (shard) => {
    log.info({ shard: shard.id, of: totalShards }, 'discord shard started');
    shard.on('death', () => log.warn({ shard: shard.id }, 'discord shard exited; restarting'));
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping discord shards');
    await stopShards([...manager.shards.values()].map((shard) => shard.process).filter((p) => p !== null));
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await manager.spawn({ amount: totalShards, timeout: 60_000 });
}

/**
 * How long a shard may take to finish its replies after SIGTERM (its own `parley start` shutdown)
 * before it is killed. Under the 30 s a container runtime (Docker, Kubernetes) waits before its own SIGKILL.
 */
export const SHARD_STOP_GRACE_MS = 20_000;

/**
 * Passes the stop on to every shard process (SIGTERM: each finishes what it is answering) and
 * waits for all of them to exit, killing those still running after the grace period; the manager
 * exits last, so a supervisor watching it never leaves shards behind. discord.js's exit listener is
 * removed first: it would respawn the shard.
 */
export async function stopShards(processes: ChildProcess[], graceMs = SHARD_STOP_GRACE_MS): Promise<void> {
  await Promise.all(
    processes.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          // discord.js's own exit listener would respawn the shard.
          child.removeAllListeners('exit').once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}
