import { ApplicationCommandOptionType, ApplicationCommandType } from 'discord.js';
import type { Logger } from '../../kernel/logger.js';
import { describe } from '../../kernel/errors.js';
import type { CommandSpec, DiscordApi } from './api.js';

/**
 * Parley's slash commands, registered at start-up: the ask command (`/ask question:<text>`,
 * named by DISCORD_COMMAND) and `/parley [command]`. Guild commands (DISCORD_GUILD_ID) appear at
 * once; global ones can take a while to reach every client. Registration lists the application's
 * commands once and sends only those that are missing or differ, each upserted by name (POST),
 * so the application's other commands are left alone (a PUT would replace them).
 */
export const QUESTION_OPTION = 'question';
const QUESTION_MAX_CHARS = 6000; // Discord's limit for a string option value

export function askCommand(name: string): CommandSpec {
  return {
    name,
    type: ApplicationCommandType.ChatInput,
    description: 'Ask Parley a question',
    options: [
      {
        type: ApplicationCommandOptionType.String,
        name: QUESTION_OPTION,
        description: 'What do you want to know?',
        required: true,
        max_length: QUESTION_MAX_CHARS,
      },
    ],
  };
}

/** `/parley [command]`: admin and privacy commands (`usage`, `forget`, `stats`), answered privately. */
export const PARLEY_COMMAND = 'parley';
export const PARLEY_OPTION = 'command';

export function parleyCommand(): CommandSpec {
  return {
    name: PARLEY_COMMAND,
    type: ApplicationCommandType.ChatInput,
    description: 'Parley commands: usage, forget, stats (only you see the answer)',
    options: [
      { type: ApplicationCommandOptionType.String, name: PARLEY_OPTION, description: 'usage, forget, stats [7d], help', required: false, max_length: 200 },
    ],
  };
}

/**
 * What an incoming slash command is to Parley, for the ask command named `askName`.
 *
 * `/parley` is always the admin command, even when DISCORD_COMMAND=parley: the engine reads every
 * `/parley` slash command as `usage`/`forget`/`stats`/`help` (guardrails' parseParleyCommand), so
 * a question asked through it could only ever get the help text. With that setting no ask command
 * is registered (see {@link commandSpecs}); questions still come by mention, reply and DM.
 */
export function commandRole(commandName: string, askName: string): 'ask' | 'admin' | undefined {
  if (commandName === PARLEY_COMMAND) return 'admin';
  if (commandName === askName) return 'ask';
  return undefined;
}

/** The commands to register for the ask command `askName`: one per name, matching {@link commandRole}. */
export function commandSpecs(askName: string): CommandSpec[] {
  return commandRole(askName, askName) === 'ask' ? [askCommand(askName), parleyCommand()] : [parleyCommand()];
}

interface OptionLike {
  type?: number;
  name?: string;
  description?: string;
  required?: boolean;
  max_length?: number;
}

/**
 * Compares the fields Parley sets (Discord adds ids, versions and defaults of its own). Both sides
 * are raw API JSON: discord.js's `ApplicationCommand#equals` / `optionsEqual` need a received
 * `ApplicationCommand` structure (camelCase options) on one side, which this code never builds.
 */
export function sameCommand(existing: CommandSpec, wanted: CommandSpec): boolean {
  const opts = (c: CommandSpec) => ((c.options ?? []) as OptionLike[]).map((o) => [o.type, o.name, o.description, o.required ?? false, o.max_length ?? null]);
  return (
    existing.name === wanted.name &&
    existing.description === wanted.description &&
    (existing.type ?? ApplicationCommandType.ChatInput) === (wanted.type ?? ApplicationCommandType.ChatInput) &&
    JSON.stringify(opts(existing)) === JSON.stringify(opts(wanted))
  );
}

/**
 * Registers `specs` (names must be distinct): one list request, then one upsert per command that
 * is missing or differs, in order. Discord errors are logged, not thrown: the bot still answers
 * mentions and DMs without its slash commands, and a failed upsert does not stop the others. Rejects
 * only for duplicate names (a caller's bug: the second would overwrite the first on every start).
 */
export async function registerCommands(api: DiscordApi, specs: CommandSpec[], o: { applicationId: string; guildId?: string; log: Logger }): Promise<void> {
  const names = specs.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new Error(`duplicate slash command names: ${names.join(', ')}`);
  const scope = o.guildId ? 'guild' : 'global';
  const hint = '(does the invite include the applications.commands scope?)';
  let registered: CommandSpec[];
  try {
    registered = await api.listCommands(o.applicationId, o.guildId);
  } catch (err) {
    o.log.error({ err: describe(err), scope }, `could not register ${names.map((n) => `/${n}`).join(', ')}: listing the commands failed ${hint}`);
    return;
  }
  for (const wanted of specs) {
    const existing = registered.find((c) => c.name === wanted.name);
    if (existing && sameCommand(existing, wanted)) {
      o.log.debug({ command: wanted.name, scope }, 'slash command already registered');
      continue;
    }
    try {
      await api.upsertCommand(o.applicationId, o.guildId, wanted);
      o.log.info({ command: wanted.name, scope, guildId: o.guildId }, existing ? 'slash command updated' : 'slash command registered');
    } catch (err) {
      o.log.error({ err: describe(err), scope }, `could not register /${wanted.name} ${hint}`);
    }
  }
}
