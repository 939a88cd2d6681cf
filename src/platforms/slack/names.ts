import type { Logger } from '../../kernel/logger.js';
import { slackErrorCode, type SlackApi } from './api.js';
import type { NameLookups } from './format.js';

/** Names change rarely; an hour keeps users.info / conversations.info calls (Tier 4) few. */
export const NAME_CACHE_TTL_MS = 60 * 60_000;
const NAME_CACHE_MAX = 5_000;

/** users.info / conversations.info lookups, cached per workspace, for readable questions. */
export class SlackNames implements NameLookups {
  private readonly cache = new Map<string, { name: string | undefined; until: number }>();

  constructor(
    private readonly api: SlackApi,
    private readonly team: string,
    private readonly log: Logger,
  ) {}

  user(id: string): Promise<string | undefined> {
    return this.cached(`u:${id}`, async () => {
      const res = await this.api.call<{ user?: { name?: string; real_name?: string; profile?: { display_name?: string; real_name?: string } } }>(
        'users.info',
        () => ({ user: id }),
        { bucket: 'lookup', scope: this.team, retryRateLimited: false },
      );
      const u = res.user;
      return u?.profile?.display_name || u?.profile?.real_name || u?.real_name || u?.name;
    });
  }

  channel(id: string): Promise<string | undefined> {
    return this.cached(`c:${id}`, async () => {
      const res = await this.api.call<{ channel?: { name?: string } }>('conversations.info', () => ({ channel: id }), {
        bucket: 'lookup',
        scope: this.team,
        retryRateLimited: false,
      });
      return res.channel?.name;
    });
  }

  private async cached(key: string, load: () => Promise<string | undefined>): Promise<string | undefined> {
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.name;
    let name: string | undefined;
    try {
      name = await load();
    } catch (err) {
      // A missing scope or a deleted user leaves the id in the question; the answer still goes out.
      this.log.debug({ code: slackErrorCode(err), key }, 'slack name lookup failed');
      return undefined;
    }
    if (this.cache.size >= NAME_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { name, until: Date.now() + NAME_CACHE_TTL_MS });
    return name;
  }
}
