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
  const stop = () => {
    for (const shard of manager.shards.values()) shard.kill();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await manager.spawn({ amount: totalShards, timeout: 60_000 });
}
