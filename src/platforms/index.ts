import type { Config } from '../config/env.js';
import type { PlatformAdapter } from '../kernel/adapter.js';
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
