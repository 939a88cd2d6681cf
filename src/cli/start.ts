import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { startParley } from '../app.js';
import type { Config } from '../config/env.js';
import { cliLogger, configOrExit, EXIT_CONFIG, fail } from './common.js';
import { ConsoleLogSink } from './console-log.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

const PLATFORMS = ['slack', 'discord', 'api'] as const;

/**
 * A full garbage collection once the old generation has grown by half over what was live after
 * the last one. V8 lets it grow up to 4× first, so a server's RSS followed the garbage of its
 * busiest moment rather than what it holds; RSS decides whether Parley fits the 256–512 MB
 * containers chat bots are given. `npm run bench` (HTTP API, 1,000 streams at once): RSS per
 * streaming reply 40–51 KB → 12–37 KB and peak 202–205 MB → 165–173 MB, CPU per reply no higher
 * (issue 19). `node --heap-growing-percent=N dist/cli/main.js start` keeps the operator's own.
 */
const HEAP_GROWING_PERCENT = 50;

export async function start(argv: string[] = []): Promise<void> {
  if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
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
