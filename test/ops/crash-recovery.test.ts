import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { FakeDiscord } from '../fakes/discord/index.js';
import { spawnParley } from '../helpers/process.js';

/**
 * Real processes: `parley start` (the built CLI) against the fake Discord, killed with
 * SIGKILL mid-reply, then started again on the same sqlite store.
 */
const dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
let openai: FakeOpenAI;
let discord: FakeDiscord;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [openai, discord] = await Promise.all([FakeOpenAI.start(), FakeDiscord.start()]);
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all([openai.close(), discord.close()]);
  rmSync(dir, { recursive: true, force: true });
});

function startBot(): ChildProcess {
  const child = spawnParley(
    ['start'],
    {
      ...openai.env(),
      ...discord.env(),
      STORE_URL: `sqlite://${join(dir, 'parley.sqlite')}`,
      PORT: '0',
      LOG_LEVEL: 'silent',
    },
    dir,
  );
  children.push(child);
  return child;
}

describe('crash recovery', () => {
  it('a reply cut by SIGKILL is finalised with the interruption note when Parley starts again', async () => {
    const words = Array.from({ length: 1000 }, (_, i) => `word${i}`);
    openai.script({ chunks: words.map((w) => `${w} `), chunkDelayMs: 20 });

    const first = startBot();
    await discord.waitFor(() => discord.gateway.connected, 45_000, 'first process connected');
    // Ready (not just identified): messages before READY and GUILD_CREATE would not be seen.
    await discord.waitFor(() => discord.commandList(discord.guildId).some((c) => c.name === 'ask'), 45_000, 'first process ready');
    discord.userSays({ content: 'tell me everything', mentionBot: true });
    // Wait until the partial answer is visible and has been checkpointed (every second).
    await discord.waitFor(() => discord.botMessages()[0]?.content.includes('word150'), 45_000, 'partial answer');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const cut = discord.botMessages()[0]!;
    // (checked below: the same messages are finished in place)
    const messagesAtCrash = discord.botMessages().length;
    expect(cut.content).not.toContain('Interrupted');

    startBot();
    await discord.waitFor(() => discord.botMessages().find((m) => m.content.includes('Interrupted')), 60_000, 'reply finalised after restart');
    const all = discord
      .botMessages()
      .map((m) => m.content)
      .join('\n');
    expect(all.startsWith('word0 word1 ')).toBe(true);
    expect(all).toMatch(/\n\n_⚠️ Interrupted: Parley restarted while writing this answer\. Please ask again\._$/);
    // Finalised in place: no new message, no text from after the crash.
    expect(discord.botMessages()).toHaveLength(messagesAtCrash);
    expect(all).not.toContain('word999');
  }, 180_000);
});
