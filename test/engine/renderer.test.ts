import { describe, expect, it } from 'vitest';
import { ProgressiveRenderer } from '../../src/engine/renderer.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MemoryChat } from '../fakes/memory-chat.js';
import { resolveContent, type ReplySurface } from '../../src/kernel/adapter.js';

const log = silentLogger();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Feeds `pieces` to the renderer one at a time, `gapMs` apart, like a model stream. */
async function stream(r: ProgressiveRenderer, pieces: string[], gapMs = 0): Promise<string> {
  let text = '';
  for (const p of pieces) {
    text += p;
    r.update(text);
    if (gapMs) await sleep(gapMs);
    else await Promise.resolve();
  }
  return text;
}

async function waitFor(cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);

describe('ProgressiveRenderer', () => {
  it('finishing hurries a progress update still waiting to be sent: it leaves with the final text, no extra request', async () => {
    const shown: string[] = [];
    const ops: string[] = [];
    const surface: ReplySurface = {
      maxLength: 4000,
      post: async (content, o) => {
        ops.push(`post ${o.final ? 'final' : 'progress'}`);
        shown[0] = resolveContent(content);
        return { id: '1' };
      },
      edit: async (_ref, content, o) => {
        ops.push(`edit ${o.final ? 'final' : 'progress'}`);
        // Held like a paced progress update (a half-spent bucket's spread) until it is hurried.
        if (!o.final) await new Promise<void>((resolve) => (o.hurry?.aborted ? resolve() : o.hurry?.addEventListener('abort', () => resolve())));
        shown[0] = resolveContent(content);
      },
    };
    const r = new ProgressiveRenderer(surface, { log });
    r.update('Hello');
    await waitFor(() => shown[0] === 'Hello');
    r.update('Hello wor');
    await waitFor(() => ops.length === 2);
    await r.finish({ text: 'Hello world', source: 'model' });
    expect(shown).toEqual(['Hello world']);
    expect(ops).toEqual(['post progress', 'edit progress']);
  });

  it('shows the first text at once, without waiting for more', async () => {
    const chat = new MemoryChat({ latencyMs: 5 });
    const r = new ProgressiveRenderer(chat.surface(), { log });
    r.update('Hello');
    // No more text and no finish: the first words must still appear on their own.
    await waitFor(() => chat.visible().length > 0);
    expect(chat.visible()).toEqual(['Hello']);
    await r.finish({ text: 'Hello world', source: 'model' });
    expect(chat.visible()).toEqual(['Hello world']);
  });

  it('coalesces: a slow platform gets few edits, each with the newest text, and the exact final', async () => {
    const chat = new MemoryChat({ latencyMs: 40 });
    const r = new ProgressiveRenderer(chat.surface(), { log });
    const text = await stream(r, words(200), 1);
    await r.finish({ text, source: 'model' });
    const msg = chat.messages[0]!;
    expect(chat.visible()).toEqual([text]);
    // 200 updates arrived; far fewer requests left, and none went backwards.
    expect(msg.versions.length).toBeLessThan(40);
    for (let i = 1; i < msg.versions.length; i++) expect(msg.versions[i]!.startsWith(msg.versions[i - 1]!)).toBe(true);
  });

  it('never has more than one request in flight per reply', async () => {
    const chat = new MemoryChat({ latencyMs: 10 });
    let inFlight = 0;
    let max = 0;
    const surface = chat.surface();
    const edit = surface.edit.bind(surface);
    surface.edit = async (...args) => {
      inFlight++;
      max = Math.max(max, inFlight);
      try {
        return await edit(...args);
      } finally {
        inFlight--;
      }
    };
    const r = new ProgressiveRenderer(surface, { log });
    const text = await stream(r, words(100), 1);
    await r.finish({ text, source: 'model' });
    expect(chat.messages[0]!.versions.length).toBeGreaterThan(2);
    expect(max).toBe(1);
  });

  it('continues past the length limit in further messages, each within the limit', async () => {
    const chat = new MemoryChat({ maxLength: 200 });
    const r = new ProgressiveRenderer(chat.surface(), { log });
    const text = await stream(
      r,
      Array.from({ length: 60 }, (_, i) => `Sentence number ${i}.\n`),
      1,
    );
    await r.finish({ text, source: 'model' });
    const shown = chat.visible();
    expect(shown.length).toBeGreaterThan(3);
    for (const m of shown) expect(m.length).toBeLessThanOrEqual(200);
    expect(shown.join('\n').replace(/\n+/g, '\n').trim()).toBe(text.replace(/\n+/g, '\n').trim());
  });

  it('delivers the exact final text through rate limits and failures', async () => {
    const chat = new MemoryChat({ latencyMs: 2 });
    chat.failNext.edit = ['rate', 'error', 'rate', 'rate', 'error'];
    chat.failNext.post = ['rate'];
    const r = new ProgressiveRenderer(chat.surface(), { log });
    const text = await stream(r, words(80), 2);
    await r.finish({ text, source: 'model' });
    expect(chat.visible()).toEqual([text]);
    expect(r.stats.rateLimited).toBeGreaterThan(0);
    expect(r.stats.failures).toBeGreaterThanOrEqual(3);
  });

  it('gives up on the final text only after its attempts, with the error', async () => {
    const chat = new MemoryChat();
    const r = new ProgressiveRenderer(chat.surface(), { log, finalAttempts: 2 });
    r.update('partial');
    await waitFor(() => chat.visible().length === 1);
    chat.failNext.edit = ['error', 'error', 'error'];
    await expect(r.finish({ text: 'partial and final', source: 'model' })).rejects.toThrow(/internal_error/);
  });

  it('gives up, bounded and without blocking the event loop, when a surface never takes the final text', async () => {
    // A surface breaking the contract (post/edit resolve without reading their content), as
    // the HTTP API's crash-recovery surface once did: the final delivery looped forever.
    const surface = { maxLength: 1000, post: async () => ({ id: 'm' }), edit: async () => undefined };
    const r = new ProgressiveRenderer(surface, { log, finalAttempts: 3 });
    r.adopt([{ id: 'm' }]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await expect(r.finish({ text: 'final', source: 'error' })).rejects.toThrow(/did not take the final text/);
    } finally {
      clearInterval(timer);
    }
    // Timers ran while it retried: it waited between attempts instead of spinning.
    expect(ticks).toBeGreaterThan(0);
    expect(r.stats.failures).toBe(3);
  });

  it('removes surplus messages when the final text is shorter than the stream', async () => {
    const chat = new MemoryChat({ maxLength: 100 });
    const r = new ProgressiveRenderer(chat.surface(), { log });
    await stream(
      r,
      Array.from({ length: 30 }, (_, i) => `Line ${i} here.\n`),
      2,
    );
    await waitFor(() => chat.visible().length > 1);
    await r.finish({ text: 'Short final.', source: 'model' });
    expect(chat.visible()).toEqual(['Short final.']);
  });

  it('applies the transform to partial and final text', async () => {
    const chat = new MemoryChat({ latencyMs: 1 });
    const r = new ProgressiveRenderer(chat.surface(), { log, transform: (t) => t.replaceAll('secret', '██') });
    const text = await stream(r, ['the ', 'secret ', 'is ', 'out'], 5);
    await r.finish({ text, source: 'model' });
    for (const v of chat.messages[0]!.versions) expect(v).not.toContain('secret');
    expect(chat.visible()).toEqual(['the ██ is out']);
  });

  it('transforms only text that is sent, not every delta, while a slow platform coalesces', async () => {
    // The transform runs over the whole text (guardrails' regexes): once per delta would be
    // quadratic in the answer's length, and almost every result would be thrown away.
    const chat = new MemoryChat({ latencyMs: 40 });
    const redact = (t: string) => t.replaceAll('secret', '██');
    let calls = 0;
    const transform = (t: string) => {
      calls++;
      return redact(t);
    };
    const r = new ProgressiveRenderer(chat.surface(), { log, transform });
    const text = await stream(r, [...words(100), 'secret ', ...words(99)], 1);
    await r.finish({ text, source: 'model' });
    expect(chat.visible()).toEqual([redact(text)]);
    for (const v of chat.messages[0]!.versions) expect(v).not.toContain('secret');
    // 200 deltas, a handful of requests: at most two transforms per request (deciding to send,
    // then the content as it leaves) plus finish's — not one per delta.
    expect(r.stats.updates).toBeLessThan(40);
    expect(calls).toBeLessThanOrEqual(2 * r.stats.updates + 1);
  });

  it('does not spin when a surface skips progress edits without reading their content', async () => {
    const chat = new MemoryChat();
    const surface = chat.surface();
    const edit = surface.edit.bind(surface);
    let skipped = 0;
    // Like Slack's response_url: only the final edit is sent.
    surface.edit = async (ref, content, o) => {
      if (!o.final) {
        skipped++;
        return;
      }
      return edit(ref, content, o);
    };
    const r = new ProgressiveRenderer(surface, { log });
    const text = await stream(r, words(40), 2);
    await r.finish({ text, source: 'model' });
    expect(chat.visible()).toEqual([text]);
    // One skipped edit per new text at most, not a busy loop.
    expect(skipped).toBeLessThanOrEqual(40);
  });

  describe('native streams', () => {
    it('appends deltas and stops with the exact text', async () => {
      const chat = new MemoryChat({ native: true, latencyMs: 5 });
      const r = new ProgressiveRenderer(chat.surface(), { log });
      const text = await stream(r, words(50), 1);
      await r.finish({ text, source: 'model' });
      expect(chat.visible()).toEqual([text]);
      expect(r.stats.native).toBe(true);
      expect(chat.requests.some((q) => q.op === 'append')).toBe(true);
      expect(chat.requests.some((q) => q.op === 'edit' || q.op === 'post')).toBe(false);
    });

    it('falls back to editing when the platform refuses the stream', async () => {
      const chat = new MemoryChat({ native: true });
      chat.streamRefused = true;
      const r = new ProgressiveRenderer(chat.surface(), { log });
      const text = await stream(r, words(30), 1);
      await r.finish({ text, source: 'model' });
      expect(chat.visible()).toEqual([text]);
      expect(r.stats.native).toBe(false);
    });

    it('continues in the same message when the stream is lost mid-way: nothing lost or repeated', async () => {
      const chat = new MemoryChat({ native: true, latencyMs: 3 });
      chat.streamFailsAt = 4;
      const r = new ProgressiveRenderer(chat.surface(), { log });
      const text = await stream(r, words(60), 2);
      await r.finish({ text, source: 'model' });
      expect(chat.visible()).toEqual([text]);
      expect(chat.messages).toHaveLength(1);
      expect(chat.requests.some((q) => q.op === 'edit')).toBe(true);
    });
  });
});
