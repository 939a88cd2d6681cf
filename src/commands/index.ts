import type { Feature, ParleyCommand } from '../engine/feature.js';
import type { IncomingMessage } from '../kernel/types.js';

/**
 * `/parley …` commands. On Slack and Discord they arrive as slash commands
 * (`trigger: 'slash_command'`, `command: 'parley'`, the rest in `text`); in the console as a
 * line starting with `/parley`. Returns the sub-command and its arguments, or undefined.
 */
export function parseParleyCommand(m: IncomingMessage): { name: string; args: string[] } | undefined {
  let rest: string | undefined;
  if (m.trigger === 'slash_command' && m.command === 'parley') rest = m.text;
  else if (m.platform === 'console' && /^\/parley(?:\s|$)/.test(m.text.trim())) rest = m.text.trim().slice('/parley'.length);
  if (rest === undefined) return undefined;
  const [name = 'help', ...args] = rest.trim().split(/\s+/).filter(Boolean);
  return { name: name.toLowerCase(), args };
}

/** `/parley help` (and any unknown sub-command): one line per command, in the features' order. */
export function commandHelp(commands: readonly ParleyCommand[]): string {
  return ['Parley commands:', ...commands.map((c) => `• ${c.help}`)].join('\n');
}

/**
 * The one `/parley` registry: the sub-commands every feature declares, answered before the
 * turn reaches any other feature (commands are private replies, never remembered).
 */
export function commandsFeature(features: readonly Feature[]): Feature {
  const commands = features.flatMap((f) => f.commands ?? []);
  const byName = new Map(commands.map((c) => [c.name, c]));
  return {
    name: 'commands',
    middleware: [
      // Not async: a turn that is no command hands next() on and holds no frame here while its
      // answer streams (issue 19); a synchronous throw reaches the engine's error hook all the same.
      (ctx, next) => {
        const cmd = parseParleyCommand(ctx.message);
        if (!cmd) return next();
        ctx.remember = false;
        const command = byName.get(cmd.name);
        if (command) return command.run(ctx, cmd.args);
        ctx.answer = { text: commandHelp(commands), source: 'command' };
        return Promise.resolve();
      },
    ],
  };
}
