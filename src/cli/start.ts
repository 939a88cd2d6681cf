import { startParley } from '../app.js';
import { cliLogger, configOrExit } from './common.js';
import { runChat } from './chat.js';

const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export async function start(): Promise<void> {
  const config = configOrExit();
  const noPlatform = !config.slack && !config.discord;
  const interactive = noPlatform && process.stdin.isTTY === true;
  const log = cliLogger(config, interactive);
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
      await runChat(parley, config, log, 'default');
      await shutdown('console closed');
    } else {
      log.info({ port: parley.port }, 'serving HTTP only');
    }
  }
}
