import { parseArgs } from 'node:util';
import { startParley } from '../app.js';
import type { Config } from '../config/env.js';
import { cliLogger, configOrExit, EXIT_CONFIG, fail } from './common.js';
import { ConsoleLogSink } from './console-log.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

const PLATFORMS = ['slack', 'discord', 'api'] as const;

export async function start(argv: string[] = []): Promise<void> {
  const config = withFlags(configOrExit(), argv);
  const noPlatform = !config.slack && !config.discord;
  const interactive = noPlatform && process.stdin.isTTY === true;
  // The console chat owns the terminal: its log lines go around the prompt (console-log.ts).
  const sink = interactive ? new ConsoleLogSink() : undefined;
  const log = cliLogger(config, interactive, { prompt: interactive, sink });
  const parley = await startParley(config, { log });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await parley.stop();
    process.exit(0);
  };
  for (const s of SHUTDOWN_SIGNALS) process.on(s, () => void shutdown(s));

  if (noPlatform) {
    process.stderr.write(
      'parley: no chat platform is configured. Set SLACK_BOT_TOKEN with SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) for Slack, ' +
        'and/or DISCORD_TOKEN for Discord.\n',
    );
    if (interactive) {
      process.stderr.write('parley: opening the console chat meanwhile.\n');
      // The console chat (and its terminal Markdown: marked-terminal, highlight.js, emoji tables)
      // loads only here: a server never draws a terminal (idle heap, issue 19).
      const { runChat } = await import('./chat.js');
      await runChat(parley, config, log, 'default', sink);
      await shutdown('console closed');
    } else {
      log.info({ port: parley.port }, 'serving HTTP only');
    }
  }
}

/**
 * `--platforms discord,slack` runs only those of the configured platforms, `--port N` overrides
 * PORT: what `parley shards` starts each Discord shard with.
 */
function withFlags(config: Config, argv: string[]): Config {
  const { values } = parseArgs({ args: argv, options: { platforms: { type: 'string' }, port: { type: 'string' } } });
  const out: Config = { ...config };
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port: expected a port number (0 picks a free one)', EXIT_CONFIG);
    out.http = { ...config.http, port };
  }
  if (values.platforms !== undefined) {
    const wanted = values.platforms.split(',').map((p) => p.trim());
    const unknown = wanted.filter((p) => !(PLATFORMS as readonly string[]).includes(p));
    if (unknown.length) fail(`--platforms: unknown ${unknown.join(', ')} (expected ${PLATFORMS.join(', ')})`, EXIT_CONFIG);
    if (!wanted.includes('slack')) out.slack = undefined;
    if (!wanted.includes('discord')) out.discord = undefined;
    if (!wanted.includes('api')) out.api = undefined;
  }
  return out;
}
