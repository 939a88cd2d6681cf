import { afterEach, describe, expect, it } from 'vitest';
import { startParley } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/env.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { startHarness, type Harness } from './harness.js';

/** Slash command registration at start-up: one list request, writes only for what changed, one command per name. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const EPHEMERAL = 1 << 6;

/** Starts and stops a second Parley against the same fake Discord (a restart). */
async function restart(h: Harness, env: Record<string, string> = {}): Promise<void> {
  await h.parley.stop();
  const d = h.discord;
  const again = await startParley(
    loadConfig({
      OPENAI_BASE_URL: h.openai.url,
      OPENAI_API_KEY: 'k',
      OPENAI_MODEL: 'fake-model',
      DISCORD_TOKEN: d.token,
      DISCORD_API_URL: d.apiUrl,
      DISCORD_GUILD_ID: d.guildId,
      STORE_URL: 'memory://',
      PORT: '0',
      ...env,
    }),
    { log: silentLogger() },
  );
  await again.stop();
}

const commandRequests = (h: Harness, method: 'GET' | 'POST') => h.discord.requests.filter((r) => r.path.includes('/commands') && r.method === method);

describe('slash command registration', () => {
  it('lists the commands once per start and sends only the one that changed', async () => {
    h = await startHarness();
    const d = h.discord;
    expect(commandRequests(h, 'GET')).toHaveLength(1);
    expect(commandRequests(h, 'POST').map((r) => r.body.name)).toEqual(['ask', 'parley']);

    // Someone edited /parley in the meantime: the restart lists once and re-sends /parley alone.
    const cmds = d.guildCommands.get(d.guildId)!;
    const i = cmds.findIndex((c) => c.name === 'parley');
    cmds[i] = { ...cmds[i]!, description: 'an older description' };
    await restart(h);
    expect(commandRequests(h, 'GET')).toHaveLength(2);
    expect(commandRequests(h, 'POST').map((r) => r.body.name)).toEqual(['ask', 'parley', 'parley']);
    expect(d.guildCommands.get(d.guildId)!.map((c) => c.name)).toEqual(['ask', 'parley']);
  });

  it('with DISCORD_COMMAND=parley registers one /parley, the admin command, that stays put across restarts and answers privately', async () => {
    const env = { DISCORD_COMMAND: 'parley' };
    h = await startHarness({ env });
    const d = h.discord;
    const registered = () => d.guildCommands.get(d.guildId) ?? [];
    expect(registered().map((c) => c.name)).toEqual(['parley']);
    expect(registered()[0]!.options).toEqual([expect.objectContaining({ type: 3, name: 'command', required: false })]);
    expect(commandRequests(h, 'GET')).toHaveLength(1);
    expect(commandRequests(h, 'POST')).toHaveLength(1);

    // Dispatch agrees with what is registered: /parley reads its `command` option, privately.
    const it = d.runCommand({ name: 'parley', options: { command: 'help' } });
    const reply = await d.waitFor(
      () => {
        const m = it.original_message_id ? d.messages.get(it.original_message_id) : undefined;
        return m?.content ? m : undefined;
      },
      10_000,
      'the /parley reply',
    );
    expect(it.callback?.flags).toBe(EPHEMERAL);
    expect(reply.content).toMatch(/^Parley commands:/);
    expect(h.openai.chatRequests).toHaveLength(0);

    // A restart finds it unchanged: nothing is re-sent (it used to flip between two definitions).
    await restart(h, env);
    expect(commandRequests(h, 'GET')).toHaveLength(2);
    expect(commandRequests(h, 'POST')).toHaveLength(1);
    expect(registered().map((c) => c.name)).toEqual(['parley']);
  });
});
