import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { startParley, type Parley } from '../app.js';
import type { Config } from '../config/env.js';
import type { Logger } from '../kernel/logger.js';
import { conversationKey } from '../kernel/types.js';
import { ConsoleAdapter } from '../platforms/console/adapter.js';
import { cliLogger, configOrExit } from './common.js';

export async function chat(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { thread: { type: 'string', default: 'default' } } });
  const config = configOrExit();
  const log = cliLogger(config, true);
  const parley = await startParley(config, { log, extraAdapters: [], http: false, platforms: false });
  await runChat(parley, config, log, values.thread!);
  await parley.stop();
}

/** The interactive loop, also opened by `parley start` when no platform is configured. */
export async function runChat(parley: Parley, config: Config, log: Logger, thread: string): Promise<void> {
  let adapter = new ConsoleAdapter({ output: process.stdout, thread });
  await adapter.start((m) => parley.engine.deliver(adapter, m));
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  const turns = await parley.engine.historyOf(conversationKey(adapter.message(''))).catch(() => []);
  process.stdout.write(
    `Parley chat — model ${config.llm.model ?? '(none configured)'}, conversation "${thread}"` +
      (turns.length ? ` (continuing, ${turns.length / 2} earlier questions)` : '') +
      `.\nType your question; /new starts a fresh conversation, /exit quits.\n`,
  );
  rl.setPrompt('> ');
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/new') {
      adapter = new ConsoleAdapter({ output: process.stdout, thread: `${thread}-${Date.now()}` });
      await adapter.start((m) => parley.engine.deliver(adapter, m));
      process.stdout.write('Started a new conversation.\n');
    } else if (text) {
      const result = await parley.engine.deliver(adapter, adapter.message(text));
      if (result?.error) log.debug({ code: result.error }, 'answer incomplete');
    }
    rl.prompt();
  }
  rl.close();
}
