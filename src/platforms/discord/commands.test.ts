import { describe, expect, it } from 'vitest';
import { askCommand, sameCommand } from './commands.js';
import { inviteUrl, requiredPermissions } from './index.js';
import { PermissionFlagsBits } from 'discord.js';

describe('/ask registration', () => {
  it('treats the command Discord returns (with ids and defaults) as unchanged', () => {
    const wanted = askCommand('ask');
    const fromDiscord = {
      ...wanted,
      id: '1', application_id: '2', version: '3', default_member_permissions: null, nsfw: false,
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
