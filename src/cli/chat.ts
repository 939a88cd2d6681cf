import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { startParley, type Parley } from '../app.js';
import type { Config } from '../config/env.js';
import type { Logger } from '../kernel/logger.js';
import { conversationKey } from '../kernel/types.js';
import { ConsoleAdapter } from '../platforms/console/adapter.js';
import { terminalMarkdown } from '../platforms/console/markdown.js';
import { cliLogger, configOrExit, noteExampleKnowledge } from './common.js';
import { ConsoleLogSink } from './console-log.js';

export async function chat(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { thread: { type: 'string', default: 'default' } } });
  const config = configOrExit({ exampleKnowledge: true });
  const sink = new ConsoleLogSink();
  const log = cliLogger(config, true, { prompt: true, sink });
  noteExampleKnowledge(config);
  const parley = await startParley(config, { log, extraAdapters: [], http: false, platforms: false });
  await runChat(parley, config, log, values.thread!, sink);
  await parley.stop();
}

/** The interactive loop, also opened by `parley start` when no platform is configured. */
export async function runChat(parley: Parley, config: Config, log: Logger, thread: string, sink?: ConsoleLogSink): Promise<void> {
  // Markdown rendered only for a person at a terminal; piped output keeps the answer's text as it is.
  const markdown = process.stdout.isTTY ? terminalMarkdown() : undefined;
  let adapter = new ConsoleAdapter({ output: process.stdout, thread, markdown });
  await adapter.start((m) => parley.engine.deliver(adapter, m));
  // Before the line reader exists: lines read while nothing listens yet (piped input) would be lost.
  const turns = await parley.engine.historyOf(conversationKey(adapter.message(''))).catch(() => []);
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  process.stdout.write(
    `Parley chat — model ${config.llm.model ?? '(none configured)'}, conversation "${thread}"` +
      (turns.length ? ` (continuing, ${plural(Math.floor(turns.length / 2), 'earlier question')})` : '') +
      `.\nType your question; /new starts a fresh conversation, /exit quits.\n`,
  );
  sink?.attach(rl);
  rl.setPrompt('> ');
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit' || text === '/quit') break;
    if (text === '/new') {
      adapter = new ConsoleAdapter({ output: process.stdout, thread: `${thread}-${Date.now()}`, markdown });
      await adapter.start((m) => parley.engine.deliver(adapter, m));
      process.stdout.write('Started a new conversation.\n');
    } else if (text) {
      sink?.setBusy(true);
      const result = await parley.engine.deliver(adapter, adapter.message(text)).finally(() => sink?.setBusy(false));
      if (result?.error) log.debug({ code: result.error }, 'answer incomplete');
    }
    rl.prompt();
  }
  rl.close();
}

/** "1 earlier question", "2 earlier questions". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
