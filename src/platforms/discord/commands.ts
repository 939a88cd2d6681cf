import type { Logger } from '../../core/logger.js';
import type { CommandSpec, DiscordApi } from './api.js';

/**
 * The `/ask question:<text>` command, registered at start-up. Guild commands (DISCORD_GUILD_ID)
 * appear at once; global ones can take a while to reach every client. Registration is
 * idempotent: the command is only sent when it is missing or differs, and it is upserted by
 * name (POST), so the application's other commands are left alone (a PUT would replace them).
 */
export const QUESTION_OPTION = 'question';
const STRING_OPTION = 3; // ApplicationCommandOptionType.String
const CHAT_INPUT = 1; // ApplicationCommandType.ChatInput
const QUESTION_MAX_CHARS = 6000; // Discord's limit for a string option value

export function askCommand(name: string): CommandSpec {
  return {
    name,
    type: CHAT_INPUT,
    description: 'Ask Parley a question',
    options: [{ type: STRING_OPTION, name: QUESTION_OPTION, description: 'What do you want to know?', required: true, max_length: QUESTION_MAX_CHARS }],
  };
}

interface OptionLike {
  type?: number;
  name?: string;
  description?: string;
  required?: boolean;
  max_length?: number;
}

/** Compares the fields Parley sets (Discord adds ids, versions and defaults of its own). */
export function sameCommand(existing: CommandSpec, wanted: CommandSpec): boolean {
  const opts = (c: CommandSpec) =>
    ((c.options ?? []) as OptionLike[]).map((o) => [o.type, o.name, o.description, o.required ?? false, o.max_length ?? null]);
  return (
    existing.name === wanted.name &&
    existing.description === wanted.description &&
    (existing.type ?? CHAT_INPUT) === (wanted.type ?? CHAT_INPUT) &&
    JSON.stringify(opts(existing)) === JSON.stringify(opts(wanted))
  );
}

export async function registerAskCommand(
  api: DiscordApi,
  o: { applicationId: string; guildId?: string; name: string; log: Logger },
): Promise<'created' | 'updated' | 'unchanged'> {
  const wanted = askCommand(o.name);
  const existing = (await api.listCommands(o.applicationId, o.guildId)).find((c) => c.name === o.name);
  const scope = o.guildId ? 'guild' : 'global';
  if (existing && sameCommand(existing, wanted)) {
    o.log.debug({ command: o.name, scope }, 'slash command already registered');
    return 'unchanged';
  }
  await api.upsertCommand(o.applicationId, o.guildId, wanted);
  o.log.info({ command: o.name, scope, guildId: o.guildId }, existing ? 'slash command updated' : 'slash command registered');
  return existing ? 'updated' : 'created';
}

/** `/parley [command]`: admin and privacy commands (`usage`, `forget`, `stats`), answered privately. */
export const PARLEY_COMMAND = 'parley';
export const PARLEY_OPTION = 'command';

export function parleyCommand(): CommandSpec {
  return {
    name: PARLEY_COMMAND,
    type: CHAT_INPUT,
    description: 'Parley commands: usage, forget, stats (only you see the answer)',
    options: [{ type: STRING_OPTION, name: PARLEY_OPTION, description: 'usage, forget, stats [7d], help', required: false, max_length: 200 }],
  };
}

/** Registers `/parley` like `/ask` (idempotent, upserted by name). */
export async function registerParleyCommand(api: DiscordApi, o: { applicationId: string; guildId?: string; log: Logger }): Promise<void> {
  const wanted = parleyCommand();
  const existing = (await api.listCommands(o.applicationId, o.guildId)).find((c) => c.name === wanted.name);
  if (existing && sameCommand(existing, wanted)) return;
  await api.upsertCommand(o.applicationId, o.guildId, wanted);
  o.log.info({ command: wanted.name }, existing ? 'slash command updated' : 'slash command registered');
}
