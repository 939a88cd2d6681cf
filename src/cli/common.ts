import { loadConfig, readEnvironment, type Config } from '../config/env.js';
import { ConfigError } from '../core/errors.js';
import { withLocalDefaults } from '../config/settings.js';
import { createLogger, type Logger } from '../core/logger.js';

/** Exit codes: 1 = the command failed, 2 = bad configuration or usage. */
export const EXIT_FAILED = 1;
export const EXIT_CONFIG = 2;

/** Loads the configuration or exits with one line per bad variable, before connecting anywhere. */
export function configOrExit(): Config {
  try {
    // A fresh clone finds parley.config.yaml or the bundled example knowledge by itself (issue 5).
    return withLocalDefaults(loadConfig(readEnvironment()));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message.split('\n').map((l) => `parley: ${l}`).join('\n')}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

/**
 * Logs for interactive commands go to stderr so stdout carries only the answer. `prompt`: a chat
 * sharing the terminal with its `>` prompt, where only errors are shown when stdout is a terminal
 * (warnings too when it is not: stderr is then the only place they show up).
 */
export function cliLogger(config: Config, interactive: boolean, o: { prompt?: boolean } = {}): Logger {
  const verbose = config.log.level === 'debug' || config.log.level === 'trace';
  const quiet = o.prompt && process.stdout.isTTY ? 'error' : 'warn';
  return createLogger({
    level: interactive && !verbose ? (config.log.level === 'silent' ? 'silent' : quiet) : config.log.level,
    content: config.log.content,
    destination: interactive ? 'stderr' : 'stdout',
    pretty: interactive ? process.stderr.isTTY : process.stdout.isTTY,
  });
}

export function fail(message: string, code = EXIT_FAILED): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(code);
}
