import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { startParley } from '../app.js';
import { ConsoleAdapter } from '../platforms/console/adapter.js';
import { cliLogger, configOrExit, EXIT_CONFIG, EXIT_FAILED, fail } from './common.js';

const usage = 'parley ask [--thread NAME] "question"';

/** `parley ask`: one question, the answer streamed to stdout; non-zero exit when no answer came. */
export async function ask(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { thread: { type: 'string' } } });
  const question = positionals.join(' ').trim();
  if (!question) fail(`no question given\nusage: ${usage}`, EXIT_CONFIG);
  const config = configOrExit();
  const log = cliLogger(config, true);
  // Without --thread every ask starts fresh; with it, history carries across runs.
  const console = new ConsoleAdapter({ output: process.stdout, thread: values.thread ?? `ask-${randomUUID()}` });
  const parley = await startParley(config, { log, extraAdapters: [console], http: false, platforms: false });
  try {
    const result = await parley.engine.deliver(console, console.message(question));
    // An answer from the knowledge base or the FAQ while the model is down is still an answer.
    const answered = result && (result.source === 'knowledge' || result.source === 'faq' || !result.error);
    if (!answered) {
      process.stderr.write(`parley: no complete answer (${result?.error ?? 'nothing was answered'})\n`);
      process.exitCode = EXIT_FAILED;
    }
  } finally {
    await parley.stop();
  }
}
