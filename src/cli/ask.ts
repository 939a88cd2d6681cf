import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { startParley } from '../app.js';
import { ConsoleAdapter } from '../platforms/console/adapter.js';
import { cliLogger, configOrExit, EXIT_CONFIG, EXIT_FAILED, fail, noteExampleKnowledge } from './common.js';

const usage = 'parley ask [--thread NAME] "question"';

/** `parley ask`: one question, the answer streamed to stdout; non-zero exit when no answer came. */
export async function ask(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { thread: { type: 'string' } } });
  const question = positionals.join(' ').trim();
  if (!question) fail(`no question given\nusage: ${usage}`, EXIT_CONFIG);
  const config = configOrExit({ exampleKnowledge: true });
  const log = cliLogger(config, true);
  noteExampleKnowledge(config);
  // Without --thread every ask starts fresh; with it, history carries across runs.
  const console = new ConsoleAdapter({ output: process.stdout, thread: values.thread ?? `ask-${randomUUID()}` });
  const parley = await startParley(config, { log, extraAdapters: [console], http: false, platforms: false });
  try {
    const result = await parley.engine.deliver(console, console.message(question));
    // An answer from the knowledge base or the FAQ while the model is down is still an answer.
    const answered =
      result && (result.source === 'knowledge' || result.source === 'faq' || !result.error) && !result.incomplete && result.source !== 'declined';
    if (!answered) {
      const why =
        result?.error ??
        (result?.incomplete
          ? `cut: ${result.finishReason === 'length' ? 'the length limit' : 'interrupted'}`
          : result?.source === 'declined'
            ? 'declined'
            : 'nothing was answered');
      process.stderr.write(`parley: no complete answer (${why})\n`);
      process.exitCode = EXIT_FAILED;
    }
  } finally {
    await parley.stop();
  }
}
