import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REST } from 'discord.js';
import { DiscordApi } from '../../../src/platforms/discord/api.js';
import { restOptions } from '../../../src/platforms/discord/adapter.js';
import { PlatformError, RateLimitError } from '../../../src/kernel/errors.js';
import { FakeDiscord } from '../../fakes/discord/index.js';

/** api.ts against the fake's REST API, with the REST options the adapter uses. */
let d: FakeDiscord;
let api: DiscordApi;
beforeEach(async () => {
  d = await FakeDiscord.start();
  api = new DiscordApi(new REST(restOptions(d.apiUrl)).setToken(d.token));
});
afterEach(async () => {
  await api.stop();
  await d.close();
});

describe('DiscordApi', () => {
  it('turns the 2,000-character rejection into PlatformError 50035', async () => {
    const err = await api.createMessage(d.channelId, 'x'.repeat(2001), { final: true }).catch((e) => e);
    expect(err).toBeInstanceOf(PlatformError);
    expect(err.platformCode).toBe('50035');
    expect(d.botMessages()).toHaveLength(0);
  });

  it('turns a 429 into RateLimitError with retry_after, instead of waiting inside discord.js', async () => {
    d.rateLimitChannel(d.channelId, 1, 2_500);
    const err = await api.createMessage(d.channelId, 'hello', { final: false }).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(2_500);
    // discord.js did not retry on its own: one request, one 429, nothing posted.
    expect(d.requests.filter((r) => r.path.endsWith('/messages'))).toHaveLength(1);
    expect(d.botMessages()).toHaveLength(0);
  });

  it('reads the content of a queued request only when it leaves the pacer', async () => {
    const m = await api.createMessage(d.channelId, 'v1', { final: false });
    let text = 'v2';
    // The second write waits for the channel's spacing; the text changes meanwhile.
    const edit = api.editMessage(d.channelId, m.id, () => text, { final: true });
    text = 'v3 newest';
    await edit;
    expect(d.messages.get(m.id)!.history).toEqual(['v1', 'v3 newest']);
  });
});
