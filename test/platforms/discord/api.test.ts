import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REST } from 'discord.js';
import { DiscordApi } from '../../../src/platforms/discord/api.js';
import { restOptions } from '../../../src/platforms/discord/adapter.js';
import { PlatformError, RateLimitError } from '../../../src/kernel/errors.js';
import { FakeDiscord } from '../../fakes/discord/index.js';
import { ChannelType, snowflake } from '../../fakes/discord/model.js';
import { Pacer } from '../../../src/pacing/pacer.js';
import type { CreatePacer } from '../../../src/pacing/factory.js';
import { ChannelSurface } from '../../../src/platforms/discord/surface.js';
import { ConversationLinks } from '../../../src/platforms/discord/links.js';
import { memoryStore } from '../../../src/store/store.js';
import { silentLogger } from '../../../src/kernel/logger.js';

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

  it('waits out the global limit and sends again, instead of failing the request', async () => {
    // Discord answers the bot's global limit with X-RateLimit-Global; discord.js then holds
    // every request until the reset (and refuses them, rejectOnRateLimit), whatever the channel.
    d.rateLimitChannel(d.channelId, 1, 200, { global: true });
    const m = await api.createMessage(d.channelId, 'hello', { final: true });
    expect(d.messages.get(m.id)!.content).toBe('hello');
    expect(d.requests.filter((r) => r.path.endsWith('/messages')).map((r) => r.status)).toEqual([429, 200]);
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

  it('keeps global budget for a reply still waiting for its first words: progress edits wait, the first words go at once', async () => {
    // Discord's 50 requests a second shrunk to 4 per 3 s, so a few requests fill it.
    const small: CreatePacer = (_platform, settings) => new Pacer({ ...settings, global: { perInterval: { amount: 4, intervalMs: 3_000 } } });
    const paced = new DiscordApi(new REST(restOptions(d.apiUrl)).setToken(d.token), small);
    const thread = snowflake();
    d.channels.set(thread, { id: thread, type: ChannelType.PublicThread, name: 'second asker', guild_id: d.guildId, parent_id: d.channelId });
    try {
      // One reply is streaming in the channel while a second asker's model is still thinking.
      const streaming = await paced.createMessage(d.channelId, 'one', { final: false, first: true });
      const firstWordsSent = paced.reserveFirstWords();
      await paced.editMessage(d.channelId, streaming.id, 'one two', { final: false });
      await paced.editMessage(d.channelId, streaming.id, 'one two three', { final: false });
      // The budget's last request is kept for the second reply: the next progress edit waits…
      const late = paced.editMessage(d.channelId, streaming.id, 'one two three four', { final: false });
      // …and the second reply's first words take it.
      const first = await paced.createMessage(thread, 'first words', { final: false, first: true });
      firstWordsSent();
      expect(d.messages.get(first.id)!.content).toBe('first words');
      expect(d.messages.get(streaming.id)!.history).toEqual(['one', 'one two', 'one two three']);
      await late;
      expect(d.messages.get(streaming.id)!.content).toBe('one two three four');
      expect(d.requests.filter((r) => r.status === 429)).toHaveLength(0);
    } finally {
      await paced.stop();
    }
  });

  it('sends a progress edit held by a half-spent bucket at once when it is hurried, with the newest text', async () => {
    // Three edits per ten minutes: after two, the last one is spread over five (past the test's timeout).
    d.routeLimits.limits = { ...d.routeLimits.limits, editMessage: { amount: 3, windowMs: 600_000, scope: 'user' } };
    const m = await api.createMessage(d.channelId, 'one', { final: false });
    await api.editMessage(d.channelId, m.id, 'one two', { final: false });
    await api.editMessage(d.channelId, m.id, 'one two three', { final: false });
    let text = 'one two three four';
    const hurry = new AbortController();
    const held = api.editMessage(d.channelId, m.id, () => text, { final: false, hurry: hurry.signal });
    await new Promise((r) => setTimeout(r, 50));
    expect(d.messages.get(m.id)!.history).toHaveLength(3);
    // The reply finished meanwhile: the held edit now carries the final text.
    text = 'one two three four five (final)';
    hurry.abort();
    await held;
    expect(d.messages.get(m.id)!.history).toEqual(['one', 'one two', 'one two three', 'one two three four five (final)']);
    expect(d.requests.filter((r) => r.status === 429)).toHaveLength(0);
  });

  it('drops a typing indicator that is no longer wanted when its turn comes', async () => {
    await api.sendTyping(d.channelId, () => false);
    expect(d.typing).toHaveLength(0);
    await api.sendTyping(d.channelId, () => true);
    expect(d.typing).toHaveLength(1);
  });

  it('a reply keeps its reservation until its first message is posted, or it ends without one', async () => {
    const links = new ConversationLinks(memoryStore(), silentLogger());
    const surface = (channelId: string) =>
      new ChannelSurface(
        { kind: 'channel', channelId, inThread: false },
        { api, links, log: silentLogger(), conversation: { channel: channelId, thread: channelId }, awaitsFirstWords: true },
      );
    const answered = surface(d.channelId);
    const silent = surface(d.channelId);
    expect(api.pacer.reservedGlobal()).toBe(2);
    await answered.post('first words', { final: false });
    expect(api.pacer.reservedGlobal()).toBe(1);
    await silent.complete();
    expect(api.pacer.reservedGlobal()).toBe(0);
    expect(d.botMessages().map((m) => m.content)).toEqual(['first words']);
  });
});
