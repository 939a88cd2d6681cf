import type { DestinationStream } from 'pino';
import { loadConfig, readEnvironment, type Config } from '../config/env.js';
import { ConfigError } from '../kernel/errors.js';
import { EXAMPLE_KNOWLEDGE_DIR, withLocalDefaults } from '../config/settings.js';
import { createLogger, type Logger } from '../kernel/logger.js';

/** Exit codes: 1 = the command failed, 2 = bad configuration or usage. */
export const EXIT_FAILED = 1;
export const EXIT_CONFIG = 2;

/**
 * Loads the configuration or exits with one line per bad variable, before connecting anywhere.
 * `exampleKnowledge`: the console demo commands may fall back to the bundled example docs; `parley start` never does.
 */
export function configOrExit(o: { exampleKnowledge?: boolean } = {}): Config {
  try {
    // A fresh clone finds parley.config.yaml (or, for the console demo, the bundled example knowledge) by itself (issues 5, 16).
    return withLocalDefaults(loadConfig(readEnvironment()), process.cwd(), o);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(
        `${err.message
          .split('\n')
          .map((l) => `parley: ${l}`)
          .join('\n')}\n`,
      );
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

/**
 * Logs for interactive commands go to stderr so stdout carries only the answer. `prompt`: a chat
 * sharing the terminal with its `>` prompt, where only errors are shown when stdout is a terminal
 * (warnings too when it is not: stderr is then the only place they show up). `sink`: where that
 * console draws log lines (never over its prompt; see console-log.ts).
 */
export function cliLogger(config: Config, interactive: boolean, o: { prompt?: boolean; sink?: DestinationStream } = {}): Logger {
  const verbose = config.log.level === 'debug' || config.log.level === 'trace';
  const quiet = o.prompt && process.stdout.isTTY ? 'error' : 'warn';
  return createLogger({
    level: interactive && !verbose ? (config.log.level === 'silent' ? 'silent' : quiet) : config.log.level,
    content: config.log.content,
    destination: o.sink ?? (interactive ? 'stderr' : 'stdout'),
    pretty: !o.sink && (interactive ? process.stderr.isTTY : process.stdout.isTTY),
  });
}

export function fail(message: string, code = EXIT_FAILED): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(code);
}

/** Says plainly, on stderr, that answers come from the bundled example docs, when they do. */
export function noteExampleKnowledge(config: Config): void {
  if (!config.exampleKnowledge) return;
  process.stderr.write(
    `parley: no knowledge is configured, so answers come from the bundled example docs (${EXAMPLE_KNOWLEDGE_DIR}, a fictional product). ` +
      'Set KNOWLEDGE_DIR, KNOWLEDGE_URLS or knowledge.sources in parley.config.yaml for your own.\n',
  );
}
