import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../../fakes/openai-server.js';
import { FakeDiscord } from '../../fakes/discord/index.js';
import { spawnParley } from '../../helpers/process.js';

/** `parley shards`: discord.js's ShardingManager runs Parley's Discord side one process per shard. */
const dir = mkdtempSync(join(tmpdir(), 'parley-shards-'));
let openai: FakeOpenAI;
let discord: FakeDiscord;
let manager: ChildProcess | undefined;

beforeAll(async () => {
  [openai, discord] = await Promise.all([FakeOpenAI.start(), FakeDiscord.start()]);
});
afterAll(async () => {
  manager?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  manager?.kill('SIGKILL');
  await Promise.all([openai.close(), discord.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** The pids of a process's children (Linux: /proc/<pid>/task/<tid>/children). */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

describe('parley shards', () => {
  it('runs the Discord side in a shard process that identifies with its shard and answers', async () => {
    manager = spawnParley(
      ['shards'],
      {
        OPENAI_BASE_URL: openai.url,
        OPENAI_API_KEY: 'k',
        OPENAI_MODEL: 'fake-model',
        DISCORD_TOKEN: discord.token,
        DISCORD_API_URL: discord.apiUrl,
        STORE_URL: `sqlite://${join(dir, 'parley.sqlite')}`,
        LOG_LEVEL: 'silent',
      },
      dir,
    );
    // The shard count came from the (fake) API's gateway/bot, as `totalShards: 'auto'` would.
    await discord.waitFor(() => discord.gateway.connected, 60_000, 'the shard connected');
    // Started: the shard registered /ask (global: no DISCORD_GUILD_ID).
    await discord.waitFor(() => discord.commandList(undefined).some((c) => c.name === 'ask'), 60_000, 'the shard ready');
    expect(discord.gateway.identifies).toHaveLength(1);
    discord.userSays({ content: 'hello from a shard', mentionBot: true });
    const reply = await discord.waitFor(() => discord.botMessages().find((m) => m.content === 'You asked: hello from a shard'), 30_000, 'the answer');
    expect(reply.allowed_mentions).toEqual({ parse: [], replied_user: false });

    // SIGTERM to the manager is passed on: it exits only once its shard processes have exited.
    const shardPids = childrenOf(manager.pid!);
    expect(shardPids.length).toBe(1);
    const exited = new Promise<number | null>((resolve) => manager!.once('exit', (code) => resolve(code)));
    manager.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of shardPids) expect(isRunning(pid)).toBe(false);
    manager = undefined;
  }, 120_000);
});
