import { describe, expect, it } from 'vitest';
import { InflightJournal } from '../../src/core/inflight.js';
import { silentLogger } from '../../src/core/logger.js';
import { openStore } from '../../src/store/store.js';

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
});
