import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REST } from 'discord.js';
import { DiscordApi } from '../../../src/platforms/discord/api.js';
import { restOptions } from '../../../src/platforms/discord/adapter.js';
import { ChannelSurface } from '../../../src/platforms/discord/surface.js';
import { ConversationLinks } from '../../../src/platforms/discord/links.js';
import { DiscordFeedback } from '../../../src/platforms/discord/feedback.js';
import { ProgressiveRenderer } from '../../../src/engine/renderer.js';
import { memoryStore } from '../../../src/store/store.js';
import { silentLogger } from '../../../src/kernel/logger.js';
import { FakeDiscord } from '../../fakes/discord/index.js';

/** A channel reply driven by the real renderer, through api.ts, against the fake's REST API. */
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

const log = silentLogger();

function reply(answerId: string): ProgressiveRenderer {
  const store = memoryStore();
  const feedback = new DiscordFeedback({
    api: () => api,
    store,
    botId: () => d.botUser.id,
    applicationId: () => d.applicationId,
    feedback: async () => undefined,
    log,
  });
  const surface = new ChannelSurface(
    { kind: 'channel', channelId: d.channelId, replyTo: answerId, inThread: false },
    { api, links: new ConversationLinks(store, log), log, conversation: { channel: d.channelId, thread: answerId }, actions: { answerId, feedback } },
  );
  return new ProgressiveRenderer(surface, { log });
}

/** Writes of the bot's messages that set components, and whether they carried text too. */
const componentWrites = () =>
  d.requests.filter((r) => (r.method === 'PATCH' || r.method === 'POST') && /\/messages/.test(r.path) && r.body?.components !== undefined);

describe('ChannelSurface', () => {
  it('sends the feedback buttons with the final text, not in one more edit', async () => {
    const question = d.addMessage({ channelId: d.channelId, author: d.defaultUser, content: 'a question' });
    const r = reply(question.id);
    r.update('The answer');
    await d.waitFor(() => d.botMessages()[0]?.content === 'The answer', 10_000, 'first words');
    await r.finish({ text: 'The answer, in full.', source: 'model' });
    const [answer] = d.botMessages();
    expect(answer!.content).toBe('The answer, in full.');
    expect(JSON.stringify(answer!.components)).toContain(`parley:fb:up:${question.id}`);
    // One write carried both: the final text and the buttons.
    const writes = componentWrites();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.body.content).toBe('The answer, in full.');
  });

  it('puts the buttons on the last message of an answer split in two, in the request that posts it', async () => {
    const question = d.addMessage({ channelId: d.channelId, author: d.defaultUser, content: 'a long question' });
    const r = reply(question.id);
    const long = `${'word '.repeat(450)}\n\n${'more '.repeat(100)}`.trim();
    await r.finish({ text: long, source: 'model' });
    const messages = d.botMessages();
    expect(messages).toHaveLength(2);
    expect(messages[0]!.components ?? []).toHaveLength(0);
    expect(JSON.stringify(messages[1]!.components)).toContain(`parley:fb:down:${question.id}`);
    const writes = componentWrites();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.method).toBe('POST');
  });
});
