import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/kernel/logger.js';
import { PlatformError, RateLimitError, StreamUnavailableError } from '../../../src/kernel/errors.js';
import { createSlackPacer, SlackApi, START_STOP_STREAM_PER_MINUTE } from '../../../src/platforms/slack/api.js';
import { ResponseUrlSurface, ThreadSurface } from '../../../src/platforms/slack/surface.js';
import { FakeSlack } from '../../fakes/slack/fake-slack.js';

const GENERAL = 'C0GENERAL1';

describe('Slack API wrapper, surface and native stream against the fake Slack', () => {
  let slack: FakeSlack;
  let api: SlackApi;
  let surface: ThreadSurface;
  let root: string;

  beforeEach(async () => {
    slack = await FakeSlack.start();
    api = new SlackApi(slack.botToken, slack.apiUrl, createSlackPacer(), silentLogger());
    root = slack.userSays(GENERAL, 'U0ADA00001', 'question').ts;
    surface = new ThreadSurface(
      api,
      { team: slack.teamId, channel: GENERAL, threadTs: root, recipientUser: 'U0ADA00001', recipientTeam: slack.teamId },
      silentLogger(),
    );
  });
  afterEach(async () => {
    await api.pacer.stop();
    await slack.close();
  });

  it('turns a 429 into RateLimitError with Retry-After, and ok:false into PlatformError with Slack’s code', async () => {
    slack.failNext('chat.postMessage', 1, { retryAfterSeconds: 2 });
    const limited = await api
      .call('chat.postMessage', () => ({ channel: GENERAL, text: 'x' }), { bucket: 'misc', scope: 't', retryRateLimited: false })
      .catch((e) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.retryAfterMs).toBe(2_000);
    const tooLong = await api.call('chat.postMessage', () => ({ channel: GENERAL, text: 'x'.repeat(4_001) }), { bucket: 'misc', scope: 't2' }).catch((e) => e);
    expect(tooLong).toBeInstanceOf(PlatformError);
    expect(tooLong.platformCode).toBe('msg_too_long');
    // The web-api client did not retry on its own: exactly one request each.
    expect(slack.callsTo('chat.postMessage')).toHaveLength(2);
  });

  it('adopts the limit a 429 shows for a method and channel: a burst of posts meets one 429 and every post lands', async () => {
    // This workspace allows fewer posts per second than the pacer assumes at first (3).
    slack.rateLimits['chat.postMessage'] = { amount: 2, windowMs: 1_000, per: 'channel' };
    const texts = Array.from({ length: 7 }, (_, i) => `post ${i}`);
    await Promise.all(texts.map((text) => api.call('chat.postMessage', () => ({ channel: GENERAL, text }), { bucket: 'post', scope: GENERAL })));
    expect(slack.callsTo('chat.postMessage').filter((c) => c.status === 429)).toHaveLength(1);
    expect(
      slack.ws
        .botMessages(GENERAL)
        .map((m) => m.text)
        .sort(),
    ).toEqual([...texts].sort());
    expect(api.pacer.learnedLimit('post', GENERAL)?.amount).toBeLessThanOrEqual(2);
  });

  it('edits messages instead of queueing for a native stream when the workspace’s chat.startStream budget is spent', async () => {
    // Slack allows about 20 stream starts a minute per workspace (Tier 2); spend them.
    await Promise.all(Array.from({ length: START_STOP_STREAM_PER_MINUTE }, () => api.pacer.schedule('streamStart', slack.teamId, async () => undefined)));
    const refused = await surface.openStream().catch((e) => e);
    expect(refused).toBeInstanceOf(StreamUnavailableError);
    expect(slack.callsTo('chat.startStream')).toHaveLength(0);
    // Another workspace still streams.
    const other = new ThreadSurface(
      api,
      { team: 'T0OTHER', channel: GENERAL, threadTs: root, recipientUser: 'U0ADA00001', recipientTeam: 'T0OTHER' },
      silentLogger(),
    );
    await expect(other.openStream()).resolves.toBeDefined();
  });

  it('reads edit content when the request leaves the pacer, so queued edits carry the newest text', async () => {
    const ref = await surface.post('v0', { final: false });
    let current = 'v1';
    const first = surface.edit(ref, () => current, { final: false });
    current = 'v2';
    const second = surface.edit(ref, () => current, { final: false });
    current = 'v3';
    await Promise.all([first, second]);
    const sent = slack.callsTo('chat.update').map((c) => c.params.text);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((t) => t === 'v3')).toBe(true);
  });

  it('ends a stream on exactly the final text: stopStream with the rest, or chat.update when it was rewritten', async () => {
    const stream = await surface.openStream();
    await stream.append('Hello **wor');
    await stream.append('ld**');
    await stream.stop('Hello **world**, done.');
    const msg = slack.ws.find(GENERAL, stream.ref!.id)!;
    expect(msg.text).toBe('Hello **world**, done.');
    expect(msg.streaming).toBe(false);
    expect(slack.callsTo('chat.update')).toHaveLength(0);

    const rewritten = await surface.openStream();
    await rewritten.append('Draft one');
    await rewritten.stop('Final *answer*');
    const msg2 = slack.ws.find(GENERAL, rewritten.ref!.id)!;
    expect(msg2.text).toBe('Final _answer_'); // chat.update carries mrkdwn
    expect(msg2.streaming).toBe(false);
  });

  it('throws StreamUnavailableError when streaming is refused, with no message left behind', async () => {
    slack.stream.mode = 'refuse';
    const stream = await surface.openStream();
    await expect(stream.append('hi')).rejects.toBeInstanceOf(StreamUnavailableError);
    expect(stream.ref).toBeUndefined();
    await expect(stream.stop('hi')).rejects.toBeInstanceOf(StreamUnavailableError);
    expect(slack.ws.botMessages()).toHaveLength(0);
  });

  it('after a stream is lost, an edit of its message works (stopping the stream if it is still open)', async () => {
    slack.stream.expireAfterAppends = 0;
    const expired = await surface.openStream();
    await expired.append('partial ');
    await expect(expired.append('more')).rejects.toBeInstanceOf(StreamUnavailableError);
    await surface.edit(expired.ref!, 'partial more', { final: true });
    expect(slack.ws.find(GENERAL, expired.ref!.id)!.text).toBe('partial more');

    slack.stream.expireAfterAppends = undefined;
    const open = await surface.openStream();
    await open.append('still streaming');
    await surface.edit(open.ref!, 'replaced', { final: true });
    expect(slack.ws.find(GENERAL, open.ref!.id)!.text).toBe('replaced');
    // chat.update refused the streaming message once; the surface stopped the stream by its ts and updated.
    expect(slack.calls.filter((c) => c.error === 'streaming_state_conflict')).toHaveLength(1);
    expect(slack.callsTo('chat.stopStream').at(-1)).toMatchObject({ ok: true, params: { ts: open.ref!.id } });
  });

  it('finishes a lost stream’s message even when stopping the stream failed: the conflicting update is retried after a stop by ts', async () => {
    const stream = await surface.openStream();
    await stream.append('partial ');
    slack.failNext('chat.appendStream', 1, { error: 'internal_error' });
    slack.failNext('chat.stopStream', 1, { error: 'internal_error' });
    await expect(stream.append('more')).rejects.toBeInstanceOf(StreamUnavailableError);
    // The stream's own attempt to stop failed: Slack still has the message in streaming state.
    expect(slack.ws.find(GENERAL, stream.ref!.id)!.streaming).toBe(true);
    await surface.edit(stream.ref!, 'partial more, and the end', { final: true });
    const msg = slack.ws.find(GENERAL, stream.ref!.id)!;
    expect(msg.text).toBe('partial more, and the end');
    expect(msg.streaming).toBe(false);
    expect(slack.callsTo('chat.stopStream').map((c) => c.error ?? 'ok')).toEqual(['internal_error', 'ok']);
  });

  it('sends the thinking status to the thread and does not fail when Slack refuses it', async () => {
    await surface.showTyping();
    expect(slack.recorded.statuses.at(-1)).toMatchObject({ channel_id: GENERAL, thread_ts: root });
    slack.failNext('assistant.threads.setStatus', 1, { error: 'missing_scope' });
    await expect(surface.showTyping()).resolves.toBeUndefined();
  });

  it('response_url: the fake refuses a 6th post, and the private surface sends progress only at the start and the end', async () => {
    const payload = slack.commandPayload({ text: 'q', user: 'U0ADA00001', channel: GENERAL });
    for (let i = 0; i < 6; i++) await fetch(payload.response_url!, { method: 'POST', body: JSON.stringify({ text: `n${i}` }) });
    expect(slack.responsesFor(payload).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 404]);

    const fresh = slack.commandPayload({ text: 'q', user: 'U0ADA00001', channel: GENERAL });
    const priv = new ResponseUrlSurface(api, fresh.response_url!);
    const ref = await priv.post('The begin', { final: false });
    for (let i = 0; i < 20; i++) await priv.edit(ref, `The beginning ${i}`, { final: false });
    await priv.edit(ref, 'The whole answer', { final: true });
    const sent = slack.responsesFor(fresh).map((r) => r.body);
    expect(sent).toEqual([
      { response_type: 'ephemeral', replace_original: false, text: 'The begin' },
      { response_type: 'ephemeral', replace_original: true, text: 'The whole answer' },
    ]);
    // When the renderer's last progress text already was the final one, `complete` sends it.
    const third = slack.commandPayload({ text: 'q', user: 'U0ADA00001', channel: GENERAL });
    const priv2 = new ResponseUrlSurface(api, third.response_url!);
    const ref2 = await priv2.post('Part', { final: false });
    await priv2.edit(ref2, 'Partial and final', { final: false });
    await priv2.complete({ text: 'Partial and final', source: 'model' }, [ref2]);
    expect(slack.responsesFor(third).at(-1)!.body.text).toBe('Partial and final');
  });
});
