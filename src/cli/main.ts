#!/usr/bin/env node
import { ask, usage as askUsage } from './ask.js';
import { chat, usage as chatUsage } from './chat.js';
import { start, usage as startUsage } from './start.js';

/** Each command is a module exporting its runner and a one-line usage. */
const commands: Record<string, { run: (argv: string[]) => Promise<void>; usage: string }> = {
  start: { run: start, usage: startUsage },
  chat: { run: chat, usage: chatUsage },
  ask: { run: ask, usage: askUsage },
};

function help(): string {
  return `Parley — an AI assistant for Slack, Discord and the terminal.\n\nUsage:\n${Object.values(commands)
    .map((c) => `  ${c.usage}`)
    .join('\n')}\n\nConfiguration comes from the environment (and a .env file); see .env.example.\n`;
}

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`parley: unknown command "${name}"\n\n${help()}`);
    process.exit(2);
  }
  await command.run(rest);
}

main().catch((err) => {
  // Expected failures have clear messages; anything else is a bug worth its stack.
  const code = (err as { code?: string })?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') process.stderr.write(`parley: cannot connect: ${(err as Error).message}\n`);
  else process.stderr.write(`parley: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
