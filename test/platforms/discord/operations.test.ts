import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter, type DiscordAdapter } from '../../../src/platforms/discord/adapter.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { HttpServer } from '../../../src/server/http.js';
import { openStore } from '../../../src/store/store.js';
import { FakeDiscord } from '../../fakes/discord/index.js';
import { MESSAGE_CONTENT_INTENT } from '../../fakes/discord/gateway.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Discord operations', () => {
  it('reports the gateway in /readyz and posts announcements with no live mentions', async () => {
    h = await startHarness();
    const ready = (await fetch(`http://127.0.0.1:${h.parley.port}/readyz`).then((r) => r.json())) as { checks: Record<string, { ok: boolean }> };
    expect(ready.checks.discord).toMatchObject({ ok: true });

    const discord = h.parley.adapters.find((a) => a.platform === 'discord')!;
    await discord.announce!(h.discord.channelId, '⚠️ Parley alert for @everyone and <@&123456789012345678>');
    const [posted] = h.discord.botMessages();
    expect(posted!.content).toMatch(/^⚠️ Parley alert for/);
    expect(posted!.content).not.toMatch(/@everyone|<@&\d+>/);
    expect(h.discord.allowedMentions.at(-1)!.allowed_mentions).toEqual({ parse: [], replied_user: false });
  });

  it('diagnoses the token and the Message Content intent for parley doctor', async () => {
    const fake = await FakeDiscord.start();
    const store = await openStore('memory://');
    const log = silentLogger();
    try {
      const adapter = createDiscordAdapter(
        { token: fake.token, apiUrl: fake.apiUrl, command: 'ask', replyMode: 'reply' },
        { log, store, http: new HttpServer(log) },
      ) as DiscordAdapter;
      expect(await adapter.diagnose()).toEqual([
        { check: 'discord token', ok: true, detail: `accepted for bot ${fake.botUser.username}` },
        { check: 'discord Message Content intent', ok: true, detail: 'enabled', fix: undefined },
      ]);
      fake.grantedIntents &= ~MESSAGE_CONTENT_INTENT;
      const [, intent] = await adapter.diagnose();
      expect(intent).toMatchObject({ ok: false, fix: expect.stringMatching(/Privileged Gateway Intents/) });

      const wrong = createDiscordAdapter(
        { token: 'x'.repeat(40), apiUrl: fake.apiUrl, command: 'ask', replyMode: 'reply' },
        { log, store, http: new HttpServer(log) },
      ) as DiscordAdapter;
      expect(await wrong.diagnose()).toEqual([expect.objectContaining({ check: 'discord token', ok: false, fix: expect.stringMatching(/DISCORD_TOKEN/) })]);
    } finally {
      await store.close();
      await fake.close();
    }
  });
});
