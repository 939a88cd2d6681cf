import type { PlatformAdapter } from '../../kernel/adapter.js';
import type { AdapterDeps } from '../deps.js';
import type { SlackSettings } from '../../config/env.js';
import { SlackAdapter } from './adapter.js';

export { SlackAdapter } from './adapter.js';

/**
 * The Slack adapter: Socket Mode when `appToken` is set, otherwise HTTP mode on the shared
 * server at `POST /slack/events` (signed with `signingSecret`). `allowBots` answers other bots;
 * `askPrivateByDefault` makes every `/ask` answer private.
 */
export function createSlackAdapter(settings: SlackSettings, deps: AdapterDeps): PlatformAdapter {
  return new SlackAdapter(settings, deps);
}
