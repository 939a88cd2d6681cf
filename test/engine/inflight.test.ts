import { describe, expect, it } from 'vitest';
import { InflightJournal } from '../../src/engine/inflight.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { openStore } from '../../src/store/store.js';
import type { PlatformAdapter } from '../../src/kernel/adapter.js';
import { MemoryChat } from '../fakes/memory-chat.js';

describe('InflightJournal', () => {
  it('checkpoints the newest text at most every second and forgets finished replies', async () => {
    const store = await openStore('memory://');
    const journal = new InflightJournal(store, silentLogger());
    await journal.start();
    const kv = store.namespace<{ text: string }>('inflight');
    const t = journal.track('conv:m1', 'memory', () => ({ where: 'here' }));
    t.progress([{ id: 'a' }], 'one');
    await new Promise((r) => setTimeout(r, 20));
    expect((await kv.get(`${journal.instance}:conv:m1`))?.text).toBe('one');
    t.progress([{ id: 'a' }], 'one two');
    t.progress([{ id: 'a' }], 'one two three');
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await kv.get(`${journal.instance}:conv:m1`))?.text).toBe('one two three');
    await t.done();
    expect(await kv.get(`${journal.instance}:conv:m1`)).toBeUndefined();
    await journal.stop();
    await store.close();
  });

  it("leaves a dead instance's reply to an instance running its platform: others do not claim it", async () => {
    const store = await openStore('memory://');
    const chat = new MemoryChat();
    const shown = await chat.surface().post('half an answer', { final: false });
    const dead = new InflightJournal(store, silentLogger());
    await dead.start();
    const t = dead.track('conv:m2', 'memory', () => ({ where: 'here' }));
    t.progress([shown], 'half an answer');
    await new Promise((r) => setTimeout(r, 20));
    await dead.stop(); // its heartbeat is gone: the reply is orphaned

    // An instance without that platform (a `parley ask` on the shared store) finds it and passes.
    const console = new InflightJournal(store, silentLogger());
    expect(await console.recover([])).toBe(0);

    // The instance running the platform finishes it at once (no claim left behind by the other).
    const platform = { platform: 'memory', resumeReply: async () => chat.surface() } as unknown as PlatformAdapter;
    const owner = new InflightJournal(store, silentLogger());
    expect(await owner.recover([platform])).toBe(1);
    expect(chat.visible().join('\n')).toMatch(/^half an answer\s+_⚠️ Interrupted/);
    await store.close();
  });
});
