import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { conversationKey, type Attachment } from '../../src/kernel/types.js';
import { openStore, type Store } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { everythingSent, rig, WhisperingAdapter } from './harness.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(() => fake.close());

const file = (name: string, contentType: string, body: string | Buffer, sizeBytes?: number): Attachment => {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  return { name, contentType, sizeBytes: sizeBytes ?? data.length, load: async () => data };
};

let store: Store;
let adapter: WhisperingAdapter;
beforeEach(async () => {
  store = await openStore('memory://');
  adapter = new WhisperingAdapter();
  fake.requests.length = 0;
});
afterEach(() => store.close());

describe('input limits', () => {
  it('answers an empty mention with the help text, without the model', async () => {
    const { ask } = rig({ store, fake });
    const m = adapter.message('   ');
    const r = await ask(adapter, m);
    expect(fake.chatRequests).toHaveLength(0);
    expect(r!.source).toBe('help');
    expect(adapter.shown(m.id)).toMatch(/^Hi! I'm Parley\. Ask me a question/);
  });

  it('declines a question over the profile limit privately, with both numbers, and accepts one at the limit', async () => {
    const { ask } = rig({ store, fake, settings: { input: { maxQuestionChars: 100 } } });
    const long = adapter.message('x'.repeat(101));
    const r = await ask(adapter, long);
    expect(fake.chatRequests).toHaveLength(0);
    expect(r!.source).toBe('declined');
    expect(adapter.noted(long.id)).toBe(
      'Your question is 101 characters long; the limit here is 100. Please shorten it or split it into parts, or attach long text as a text file.',
    );
    expect(adapter.shown(long.id)).toBe('I sent you a private note about this message.');
    expect(await ask(adapter, adapter.message('y'.repeat(100)))).toMatchObject({ source: 'model' });
  });

  it('defaults to 4,000 characters', async () => {
    const { ask } = rig({ store, fake });
    const r = await ask(adapter, adapter.message('z'.repeat(4_001)));
    expect(r!.source).toBe('declined');
    expect(fake.chatRequests).toHaveLength(0);
  });

  it('replies in the thread when the platform cannot whisper (never silence)', async () => {
    const plain = new WhisperingAdapter(false);
    const { ask } = rig({ store, fake, settings: { input: { maxQuestionChars: 10 } } });
    const m = plain.message('this is far too long');
    await ask(plain, m);
    expect(plain.shown(m.id)).toMatch(/^Your question is 20 characters long; the limit here is 10\./);
  });

  it('reads a text attachment as context, fenced and named', async () => {
    const { ask, history } = rig({ store, fake });
    const m = adapter.message('summarise the log', { attachments: [file('server.log', 'text/plain', 'ERROR disk full on /var\nWARN retrying')] });
    const r = await ask(adapter, m);
    expect(r!.source).toBe('model');
    const system = fake.chatRequests[0]!.body.messages.filter((x: { role: string }) => x.role === 'system')
      .map((x: { content: string }) => x.content)
      .join('\n');
    expect(system).toContain('The user attached the file "server.log"');
    expect(system).toContain('ERROR disk full on /var\nWARN retrying');
    // The question stored is the question, not the file.
    expect((await history.load(conversationKey(m)))[0]!.content).toBe('summarise the log');
  });

  it.each([
    ['a text file over the size limit', file('big.txt', 'text/plain', 'a'.repeat(2_001)), /I can't read "big\.txt": it is 2 KB and the limit is 2 KB/],
    [
      'a file whose real size is over the limit although the platform said less',
      file('liar.txt', 'text/plain', 'a'.repeat(3_000), 10),
      /it is 3 KB and the limit is 2 KB/,
    ],
    ['a PDF', file('report.pdf', 'application/pdf', '%PDF-1.7'), /I can't read "report\.pdf" \(application\/pdf\): I only read text files/],
    [
      'an image for a model that cannot see',
      file('shot.png', 'image/png', Buffer.from([0x89, 0x50])),
      /I can't look at "shot\.png": the model used here does not read images/,
    ],
    ['binary data labelled as text', file('data.txt', 'text/plain', Buffer.from([0x41, 0x00, 0x42])), /"data\.txt" does not look like text/],
    [
      'a file that cannot be downloaded',
      { name: 'gone.txt', contentType: 'text/plain', sizeBytes: 10, load: async () => Promise.reject(new Error('403')) },
      /I couldn't download "gone\.txt"/,
    ],
  ])('declines %s, saying why, without the model', async (_label, attachment, reason) => {
    const { ask } = rig({ store, fake, settings: { input: { maxAttachmentBytes: 2_000 } } });
    const m = adapter.message('look at this', { attachments: [attachment as Attachment] });
    const r = await ask(adapter, m);
    expect(fake.chatRequests).toHaveLength(0);
    expect(r!.source).toBe('declined');
    expect(adapter.noted(m.id)).toMatch(reason);
  });

  it('accepts an image for a model marked vision-capable', async () => {
    const { ask, engine } = rig({ store, fake, deps: { isVisionModel: (model) => model === 'fake-model' } });
    let images: unknown;
    engine.use(async (ctx, next) => {
      images = ctx.images;
      await next();
    });
    const r = await ask(adapter, adapter.message('what is in this picture?', { attachments: [file('shot.png', 'image/png', Buffer.from([1, 2, 3]))] }));
    expect(r!.source).toBe('model');
    expect(images).toEqual([{ name: 'shot.png', contentType: 'image/png', data: Buffer.from([1, 2, 3]) }]);
  });

  it('declines more attachments than allowed', async () => {
    const { ask } = rig({ store, fake, settings: { input: { maxAttachments: 1 } } });
    const m = adapter.message('two files', { attachments: [file('a.txt', 'text/plain', 'a'), file('b.txt', 'text/plain', 'b')] });
    await ask(adapter, m);
    expect(adapter.noted(m.id)).toBe('You attached 2 files; I read at most 1 per message. Please send fewer files at a time.');
    expect(fake.chatRequests).toHaveLength(0);
  });
});

describe('access control', () => {
  const settings = {
    access: {
      users: { deny: ['U-banned'] },
      channels: { allow: ['C-support', 'C-ops'] },
      workspaces: { deny: ['discord:G-other'] },
      roles: { allow: ['R-staff'], deny: ['R-muted'] },
      directMessages: false,
      admins: ['U-admin'],
    },
  };

  it.each([
    ['an allowed user in an allowed channel', { channel: 'C-support' }, true],
    ['a denied user', { channel: 'C-support', user: { id: 'U-banned' } }, false],
    ['a channel not on the allow list', { channel: 'C-random' }, false],
    ['a denied workspace on that platform', { platform: 'discord', workspace: 'G-other', channel: 'C-support', user: { id: 'U1', roles: ['R-staff'] } }, false],
    ['the same workspace id on another platform', { workspace: 'G-other', channel: 'C-support' }, true],
    ['a member with an allowed role', { platform: 'discord', workspace: 'G1', channel: 'C-ops', user: { id: 'U1', roles: ['R-staff'] } }, true],
    ['a member without an allowed role', { platform: 'discord', workspace: 'G1', channel: 'C-ops', user: { id: 'U1', roles: ['R-guest'] } }, false],
    ['a member with a denied role', { platform: 'discord', workspace: 'G1', channel: 'C-ops', user: { id: 'U1', roles: ['R-staff', 'R-muted'] } }, false],
    ['a direct message while DMs are off', { channel: 'D1', trigger: 'direct_message' as const }, false],
    ['an admin anywhere', { channel: 'C-random', user: { id: 'U-admin' } }, true],
    ['the console (the operator, not a DM)', { platform: 'console', workspace: 'local', channel: 'C-support', trigger: 'direct_message' as const }, true],
  ])('%s → allowed: %s', async (_label, where, allowed) => {
    const { ask } = rig({ store, fake, settings });
    const m = adapter.message('hello?', where);
    const r = await ask(adapter, m);
    expect(fake.chatRequests).toHaveLength(allowed ? 1 : 0);
    expect(r!.source).toBe(allowed ? 'model' : 'declined');
    if (!allowed && m.trigger !== 'direct_message') {
      expect(adapter.noted(m.id)).toBe('Sorry, I am not available to you here. If you think you should have access, please ask a Parley administrator.');
      expect(adapter.shown(m.id)).toBe('I sent you a private note about this message.');
    }
  });

  it('tells a DM user to mention the bot in a channel instead (a DM is already private)', async () => {
    const { ask } = rig({ store, fake, settings });
    const m = adapter.message('hi', { channel: 'D1', trigger: 'direct_message' });
    await ask(adapter, m);
    expect(adapter.shown(m.id)).toBe('I do not answer direct messages here. Please mention me in a channel instead.');
  });

  it('uses the profile’s own settings over the top-level ones', async () => {
    const { ask } = rig({
      store,
      fake,
      settings: {},
      profile: { guardrails: (await import('../../src/config/guardrails.js')).guardrailSettingsSchema.parse(settings) },
    });
    expect((await ask(adapter, adapter.message('hi', { channel: 'C-random' })))!.source).toBe('declined');
  });
});

describe('reloaded settings', () => {
  it('apply on the next turn when given as a function (input limits and blocked terms)', async () => {
    const { guardrailSettingsSchema } = await import('../../src/config/guardrails.js');
    let current = guardrailSettingsSchema.parse({ input: { maxQuestionChars: 5 } });
    const { ask } = rig({ store, fake, deps: { settings: () => current } });
    expect((await ask(adapter, adapter.message('too long')))!.source).toBe('declined');
    current = guardrailSettingsSchema.parse({ output: { blockedTerms: ['long'] } });
    const m = adapter.message('too long', { thread: 'T2' });
    expect((await ask(adapter, m))!.source).toBe('model');
    expect(adapter.shown(m.id)).toBe('You asked: too [removed]');
  });
});
