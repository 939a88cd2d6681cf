import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/kernel/logger.js';
import type { CommandSpec, DiscordApi } from '../../../src/platforms/discord/api.js';
import { askCommand, commandRole, commandSpecs, parleyCommand, registerCommands, sameCommand } from '../../../src/platforms/discord/commands.js';
import { inviteUrl, requiredPermissions } from '../../../src/platforms/discord/adapter.js';
import { PermissionFlagsBits } from 'discord.js';

describe('/ask registration', () => {
  it('treats the command Discord returns (with ids and defaults) as unchanged', () => {
    const wanted = askCommand('ask');
    const fromDiscord = {
      ...wanted,
      id: '1',
      application_id: '2',
      version: '3',
      default_member_permissions: null,
      nsfw: false,
      options: (wanted.options as object[]).map((o) => ({ ...o, description_localizations: null })),
    };
    expect(sameCommand(fromDiscord, wanted)).toBe(true);
  });

  it('sees a changed description, option or name', () => {
    const wanted = askCommand('ask');
    expect(sameCommand({ ...wanted, description: 'old' }, wanted)).toBe(false);
    expect(sameCommand({ ...wanted, options: [] }, wanted)).toBe(false);
    expect(sameCommand({ ...askCommand('help') }, wanted)).toBe(false);
  });
});

/** An api that records calls; `fail` names commands whose upsert is refused. */
function stubApi(registered: CommandSpec[], o: { fail?: string[]; listFails?: boolean } = {}) {
  const calls: string[] = [];
  const api = {
    async listCommands() {
      calls.push('list');
      if (o.listFails) throw new Error('403 Missing Access');
      return registered.map((c, i) => ({ ...c, id: String(i) }));
    },
    async upsertCommand(_app: string, _guild: string | undefined, spec: CommandSpec) {
      calls.push(`upsert ${spec.name}`);
      if (o.fail?.includes(spec.name)) throw new Error('500');
      return spec;
    },
  };
  return { api: api as unknown as DiscordApi, calls };
}

describe('registerCommands', () => {
  const o = { applicationId: '1', guildId: '2', log: silentLogger() };

  it('lists once and upserts only what is missing or differs, in order', async () => {
    const { api, calls } = stubApi([askCommand('ask'), { ...parleyCommand(), description: 'old' }]);
    await registerCommands(api, [askCommand('ask'), parleyCommand(), askCommand('help')], o);
    expect(calls).toEqual(['list', 'upsert parley', 'upsert help']);
  });

  it('keeps going past a failed upsert, and resolves when listing fails', async () => {
    const failing = stubApi([], { fail: ['ask'] });
    await registerCommands(failing.api, commandSpecs('ask'), o);
    expect(failing.calls).toEqual(['list', 'upsert ask', 'upsert parley']);
    const unlisted = stubApi([], { listFails: true });
    await expect(registerCommands(unlisted.api, commandSpecs('ask'), o)).resolves.toBeUndefined();
    expect(unlisted.calls).toEqual(['list']);
  });

  it('refuses two specs with one name before any request', async () => {
    const { api, calls } = stubApi([]);
    await expect(registerCommands(api, [askCommand('parley'), parleyCommand()], o)).rejects.toThrow(/duplicate/);
    expect(calls).toEqual([]);
  });
});

describe('command roles', () => {
  it('registers and dispatches one command per name, /parley always the admin command', () => {
    expect(commandSpecs('ask').map((c) => c.name)).toEqual(['ask', 'parley']);
    expect(commandSpecs('parley')).toEqual([parleyCommand()]);
    expect(commandRole('ask', 'ask')).toBe('ask');
    expect(commandRole('parley', 'ask')).toBe('admin');
    expect(commandRole('parley', 'parley')).toBe('admin');
    expect(commandRole('ask', 'parley')).toBeUndefined();
    expect(commandRole('other', 'ask')).toBeUndefined();
  });
});

describe('invite URL', () => {
  it('asks for thread creation only in thread mode', () => {
    expect(requiredPermissions('reply') & PermissionFlagsBits.CreatePublicThreads).toBe(0n);
    expect(requiredPermissions('thread') & PermissionFlagsBits.CreatePublicThreads).toBe(PermissionFlagsBits.CreatePublicThreads);
    expect(requiredPermissions('thread') & PermissionFlagsBits.Administrator).toBe(0n);
    const url = new URL(inviteUrl('123456789012345678', 'thread'));
    expect(url.searchParams.get('permissions')).toBe(requiredPermissions('thread').toString());
    expect(url.searchParams.get('scope')).toBe('bot applications.commands');
  });
});
