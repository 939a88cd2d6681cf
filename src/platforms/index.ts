import type { Config } from '../config/env.js';
import type { Deliver, PlatformAdapter } from '../kernel/adapter.js';
import type { Logger } from '../kernel/logger.js';
import type { AdapterDeps } from './deps.js';
import type { HttpApiExtraDeps } from './http-api/adapter.js';

/**
 * Every platform whose credentials are set. The console is not here: the CLI opens it.
 * Each adapter is imported only when configured, so `parley ask` does not load the Slack and
 * Discord SDKs.
 */
export async function createAdapters(config: Config, deps: AdapterDeps & Partial<HttpApiExtraDeps>): Promise<PlatformAdapter[]> {
  const adapters: PlatformAdapter[] = [];
  if (config.slack) adapters.push((await import('./slack/index.js')).createSlackAdapter(config.slack, deps));
  if (config.discord) adapters.push((await import('./discord/adapter.js')).createDiscordAdapter(config.discord, deps));
  if (config.api) adapters.push((await import('./http-api/adapter.js')).createHttpApiAdapter(config.api, deps));
  return adapters;
}

/**
 * Starts `adapters` in order, each delivering through `deliver`; if one fails to start, the ones
 * already started are stopped and the error is thrown. Resolves with the started adapters.
 */
export async function startAdapters(adapters: PlatformAdapter[], deliver: (adapter: PlatformAdapter) => Deliver, log: Logger): Promise<PlatformAdapter[]> {
  const started: PlatformAdapter[] = [];
  try {
    for (const adapter of adapters) {
      await adapter.start(deliver(adapter));
      started.push(adapter);
      log.info({ platform: adapter.platform }, 'platform started');
    }
  } catch (err) {
    await Promise.allSettled(started.map((a) => a.stop()));
    throw err;
  }
  return started;
}
