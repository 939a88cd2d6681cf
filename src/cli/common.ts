import { loadConfig, readEnvironment, type Config } from '../config/env.js';
import { ConfigError } from '../kernel/errors.js';
import { withLocalDefaults } from '../config/settings.js';
import { createLogger, type Logger } from '../kernel/logger.js';

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

/** Logs for interactive commands go to stderr so stdout carries only the answer. */
export function cliLogger(config: Config, interactive: boolean): Logger {
  const verbose = config.log.level === 'debug' || config.log.level === 'trace';
  return createLogger({
    level: interactive && !verbose ? (config.log.level === 'silent' ? 'silent' : 'warn') : config.log.level,
    content: config.log.content,
    destination: interactive ? 'stderr' : 'stdout',
    pretty: interactive ? process.stderr.isTTY : process.stdout.isTTY,
  });
}

export function fail(message: string, code = EXIT_FAILED): never {
  process.stderr.write(`parley: ${message}\n`);
  process.exit(code);
}
