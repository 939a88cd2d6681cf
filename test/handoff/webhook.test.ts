import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { HistoryStore } from '../../src/store/history.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { HandoffService, announcement } from '../../src/handoff/service.js';
import { postWebhook, verifySignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/handoff/webhook.js';
import type { AnswerRecord } from '../../src/analytics/answers.js';
import type { PlatformAdapter } from '../../src/kernel/adapter.js';
import type { ConversationKey } from '../../src/kernel/types.js';

/** A ticket system: answers with the scripted statuses in turn (then 200), recording every request. */
interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function receiver(statuses: number[]): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(statuses.shift() ?? 200).end();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/parley`, received };
}

const SECRET = 'whsec-test-0123456789abcdef';
const FAST = { attempts: 4, backoffBaseMs: 5, log: silentLogger() };

describe('handoff webhook', () => {
  it('signs the JSON body with HMAC-SHA256 over "timestamp.body" and retries 5xx/429 until accepted', async () => {
    const hook = await receiver([503, 429, 200]);
    expect(await postWebhook(hook.url, { hello: 'world' }, SECRET, FAST)).toBe(true);
    expect(hook.received).toHaveLength(3);
    for (const r of hook.received) {
      expect(r.headers['content-type']).toBe('application/json');
      const ts = String(r.headers[TIMESTAMP_HEADER]);
      const sig = String(r.headers[SIGNATURE_HEADER]);
      expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
      expect(verifySignature(SECRET, ts, r.body, sig)).toBe(true);
      // A tampered body or another secret does not verify.
      expect(verifySignature(SECRET, ts, r.body.replace('world', 'w0rld'), sig)).toBe(false);
      expect(verifySignature('another-secret-0123456789', ts, r.body, sig)).toBe(false);
    }
    expect(JSON.parse(hook.received[2]!.body)).toEqual({ hello: 'world' });
  });

  it('gives up after its attempts, and never retries a 4xx refusal', async () => {
    const down = await receiver([500, 500, 500, 500, 500]);
    expect(await postWebhook(down.url, {}, SECRET, FAST)).toBe(false);
    expect(down.received).toHaveLength(4);
    await new Promise<void>((r) => server!.close(() => r()));
    const refusing = await receiver([400]);
    expect(await postWebhook(refusing.url, {}, undefined, FAST)).toBe(false);
    expect(refusing.received).toHaveLength(1);
    expect(refusing.received[0]!.headers[SIGNATURE_HEADER]).toBeUndefined();
  });
});

describe('handoff service', () => {
  const conversation = 'discord:G1:C1:Q1' as ConversationKey;
  const answer: AnswerRecord = {
    conversation,
    day: '2026-11-20',
    profile: 'billing',
    channel: 'discord:C1',
    question: 'Why was I charged twice?',
    platform: 'discord',
    answerId: 'Q1',
    workspace: 'G1',
    thread: 'Q1',
    asker: { id: 'U1', name: 'alice' },
    source: 'model',
    at: 0,
    text: 'Let me check.',
  };

  it('without a model, posts the transcript; sends the webhook with transcript, asker and link; announces only once', async () => {
    const store = await openStore('memory://');
    const history = new HistoryStore(store, { maxTurns: 40 });
    await history.append(
      conversation,
      { role: 'user', content: 'Why was I charged twice?', at: 1, user: 'U1' },
      { role: 'assistant', content: 'Let me check.', at: 2 },
    );
    const hook = await receiver([502]);
    const announced: { channel: string; text: string; ping?: string }[] = [];
    const slack = {
      platform: 'slack',
      announce: async (channel: string, text: string, o?: { ping?: string }) => void announced.push({ channel, text, ping: o?.ping }),
    } as unknown as PlatformAdapter;
    const service = new HandoffService({
      store,
      history,
      adapters: () => [slack],
      log: silentLogger(),
      webhook: { attempts: 3, backoffBaseMs: 5 },
      profile: (name) =>
        name === 'billing'
          ? ({
              name,
              handoff: {
                destination: { platform: 'slack', channel: 'C-ESC' },
                ping: 'S0SUPPORT',
                webhook: { url: hook.url, secret: SECRET },
                lowConfidenceOffer: true,
              },
            } as never)
          : undefined,
    });

    expect(await service.start(answer, { id: 'U1', name: 'alice' }, 'https://example.slack.com/archives/C1/p1')).toBe('handed_off');
    expect(await service.start(answer, { id: 'U2' })).toBe('already');
    await service.idle();
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatchObject({ channel: 'C-ESC', ping: 'S0SUPPORT' });
    expect(announced[0]!.text).toContain('Transcript (the model was unavailable for a summary):\nUser: Why was I charged twice?\nParley: Let me check.');
    expect(announced[0]!.text).toContain('Thread: https://example.slack.com/archives/C1/p1');

    expect(hook.received).toHaveLength(2); // one 502, then delivered
    const body = JSON.parse(hook.received[1]!.body);
    expect(body).toMatchObject({
      type: 'parley.handoff',
      profile: 'billing',
      link: 'https://example.slack.com/archives/C1/p1',
      asker: { id: 'U1', name: 'alice' },
      summary: null,
    });
    expect(body.transcript.map((t: { content: string }) => t.content)).toEqual(['Why was I charged twice?', 'Let me check.']);
    expect(
      verifySignature(SECRET, String(hook.received[1]!.headers[TIMESTAMP_HEADER]), hook.received[1]!.body, String(hook.received[1]!.headers[SIGNATURE_HEADER])),
    ).toBe(true);

    expect(await service.stateOf(conversation)).toMatchObject({ by: 'U1', answerId: 'Q1' });
    expect(await service.resume(conversation)).toBe(true);
    expect(await service.stateOf(conversation)).toBeUndefined();
  });

  it('says so when the profile has nowhere to hand off to, or the escalation post fails; the thread is then not handed off', async () => {
    const store = await openStore('memory://');
    const service = new HandoffService({
      store,
      history: new HistoryStore(store, { maxTurns: 40 }),
      adapters: () => [],
      log: silentLogger(),
      profile: () => undefined,
    });
    expect(await service.start(answer, { id: 'U1' })).toBe('no_destination');
    expect(await service.stateOf(conversation)).toBeUndefined();

    const failing = { platform: 'slack', announce: async () => Promise.reject(new Error('channel_not_found')) } as unknown as PlatformAdapter;
    const broken = new HandoffService({
      store,
      history: new HistoryStore(store, { maxTurns: 40 }),
      adapters: () => [failing],
      log: silentLogger(),
      profile: () => undefined,
      defaults: { destination: { platform: 'slack', channel: 'C-GONE' }, lowConfidenceOffer: true },
    });
    expect(await broken.start(answer, { id: 'U1' })).toBe('not_delivered');
    expect(await broken.stateOf(conversation)).toBeUndefined();
  });

  it('names people in plain text, and the requester only when it is not the asker', () => {
    const text = announcement({ answer, by: { id: 'U9', name: 'bob' }, summary: 'Charged twice.', bySummary: true });
    expect(text).toBe(
      '🙋 Handoff requested (profile billing)\nAsker: alice (discord user U1)\nRequested by: bob (discord user U9)\nThread: discord:G1:C1:Q1\nSummary: Charged twice.',
    );
  });
});
