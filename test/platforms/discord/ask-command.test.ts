import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

/** `/ask question:<text>`: registration, deferral within 3 s, streamed edits, follow-ups, token expiry. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const DEFER_DEADLINE_MS = 3_000; // Discord drops interactions not acknowledged within 3 s
const DEFERRED = 5; // InteractionResponseType.DeferredChannelMessageWithSource

describe('/ask', () => {
  it('registers /ask on the guild once, and not again when it is unchanged', async () => {
    h = await startHarness();
    const d = h.discord;
    const cmds = d.guildCommands.get(d.guildId) ?? [];
    // `/parley` (usage, forget, stats) is registered beside it.
    expect(cmds.map((c) => c.name)).toEqual(['ask', 'parley']);
    expect(cmds[0]!.options).toEqual([expect.objectContaining({ type: 3, name: 'question', required: true })]);
    expect(d.globalCommands).toHaveLength(0);
    const writes = () => d.requests.filter((r) => r.path.includes('/commands') && r.method !== 'GET').length;
    expect(writes()).toBe(2);

    // A restart against the same application: the command is listed, found equal, not re-sent.
    await h.parley.stop();
    const { startParley } = await import('../../../src/app.js');
    const { loadConfig } = await import('../../../src/config/env.js');
    const { silentLogger } = await import('../../../src/kernel/logger.js');
    const again = await startParley(
      loadConfig({
        OPENAI_BASE_URL: h.openai.url,
        OPENAI_API_KEY: 'k',
        OPENAI_MODEL: 'fake-model',
        DISCORD_TOKEN: d.token,
        DISCORD_API_URL: d.apiUrl,
        DISCORD_GUILD_ID: d.guildId,
        STORE_URL: 'memory://',
        PORT: '0',
      }),
      { log: silentLogger() },
    );
    await again.stop();
    expect(writes()).toBe(2);
    // One list request per start (it was one per command: 4).
    expect(d.requests.filter((r) => r.path.includes('/commands') && r.method === 'GET')).toHaveLength(2);
  });

  it('registers globally without DISCORD_GUILD_ID', async () => {
    h = await startHarness({ env: { DISCORD_GUILD_ID: '' } });
    expect(h.discord.globalCommands.map((c) => c.name)).toEqual(['ask', 'parley']);
    expect(h.discord.guildCommands.get(h.discord.guildId) ?? []).toHaveLength(0);
  });

  it('defers within 3 s, then streams the answer into the deferred reply', async () => {
    h = await startHarness();
    const d = h.discord;
    const answer = 'Slash commands are answered by editing the deferred reply as the model writes, word by word, to the end.';
    // The model takes its time before the first token: the defer must not wait for it.
    h.openai.script({ text: answer, firstTokenDelayMs: 1_500, chunkDelayMs: 40 });
    const it = d.runCommand({ name: 'ask', options: { question: 'how do slash commands work?' } });

    const callback = await d.waitFor(() => it.callback, 5_000, 'the interaction callback');
    expect(callback.type).toBe(DEFERRED);
    expect(callback.at - it.created_at).toBeLessThan(DEFER_DEADLINE_MS);
    expect(callback.flags).toBe(0);

    const original = await d.waitFor(
      () => {
        const m = it.original_message_id ? d.messages.get(it.original_message_id) : undefined;
        return m?.content === answer ? m : undefined;
      },
      15_000,
      'the edited reply',
    );
    // Created empty by the deferral, then edited progressively to the final text.
    expect(original.history.length).toBeGreaterThan(2);
    for (const shown of original.history) expect(answer.startsWith(shown)).toBe(true);
    expect(h.openai.chatRequests[0]!.body.messages.at(-1).content).toContain('how do slash commands work?');
    expect(
      d.requests.filter((r) => r.path.includes('/webhooks/')).every((r) => JSON.stringify(r.body.allowed_mentions) === '{"parse":[],"replied_user":false}'),
    ).toBe(true);
  });

  it('continues with follow-ups past 2,000 characters', async () => {
    h = await startHarness();
    const d = h.discord;
    const answer = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} of a long answer to a slash command, padded out.`).join(' ');
    expect(answer.length).toBeGreaterThan(4000);
    h.openai.script({ text: answer });
    const it = d.runCommand({ name: 'ask', options: { question: 'long one' } });
    const parts = await d.waitFor(
      () => {
        if (!it.original_message_id || it.followup_ids.length < 2) return undefined;
        const msgs = [it.original_message_id, ...it.followup_ids].map((id) => d.messages.get(id)!);
        return msgs
          .map((m) => m.content)
          .join(' ')
          .replace(/\s+/g, ' ') === answer
          ? msgs
          : undefined;
      },
      15_000,
      'reply and follow-ups',
    );
    for (const m of parts) expect(m.content.length).toBeLessThanOrEqual(2000);
    expect(d.botMessages().filter((m) => !m.interaction_token)).toHaveLength(0);
  });

  it('falls back to channel messages when the interaction token has expired', async () => {
    h = await startHarness();
    const d = h.discord;
    const answer = 'This answer outlives its interaction token, so it finishes as a plain channel message with the full text.';
    h.openai.script({ text: answer, chunkDelayMs: 80 });
    const it = d.runCommand({ name: 'ask', options: { question: 'slow one' } });
    // Once the reply shows some text, the token "expires" (as 15 minutes passing would).
    await d.waitFor(() => (it.original_message_id && d.messages.get(it.original_message_id)!.content.length > 0) || undefined, 10_000, 'first text');
    d.expireInteractionTokens();

    const fallback = await d.waitFor(() => d.botMessages().find((m) => !m.interaction_token && m.content === answer), 15_000, 'the channel message');
    expect(fallback.allowed_mentions).toEqual({ parse: [], replied_user: false });
    expect(d.requests.some((r) => r.status === 401 && r.path.includes('/webhooks/'))).toBe(true);
  });
});
