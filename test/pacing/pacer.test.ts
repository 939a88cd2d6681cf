import Bottleneck from 'bottleneck';
import { afterAll, describe, expect, it } from 'vitest';
import { RateLimitError } from '../../src/kernel/errors.js';
import { Pacer } from '../../src/pacing/pacer.js';
import { patchBottleneckForRedis7 } from '../../src/pacing/bottleneck-redis7.js';
import { windowLog } from '../../src/pacing/window.js';
import { openStore } from '../../src/store/store.js';
import { REDIS_PORT, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const connections: Bottleneck.IORedisConnection[] = [];
afterAll(async () => {
  await Promise.all(connections.map((c) => c.disconnect(false)));
});

/** Start times of jobs, to check spacing. */
function recorder() {
  const starts: { scope: string; at: number }[] = [];
  const job = (scope: string) => async () => {
    starts.push({ scope, at: Date.now() });
  };
  return { starts, job };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);

describe('Pacer', () => {
  it('spaces requests within a scope, and scopes do not wait for each other', async () => {
    const pacer = new Pacer({ buckets: { edit: { minTimeMs: 100 } } });
    const { starts, job } = recorder();
    await Promise.all([
      pacer.schedule('edit', 'A', job('A')),
      pacer.schedule('edit', 'A', job('A')),
      pacer.schedule('edit', 'A', job('A')),
      pacer.schedule('edit', 'B', job('B')),
    ]);
    const a = starts.filter((s) => s.scope === 'A').map((s) => s.at);
    // Starts are taken in the jobs, after the pacer let them go: on a loaded machine a job can start late
    // and its successor on time, so the bound leaves room for that jitter (unpaced, the gaps would be ~0).
    for (const g of gaps(a)) expect(g).toBeGreaterThanOrEqual(60);
    // B went out while A was still spacing its three requests.
    expect(starts.find((s) => s.scope === 'B')!.at).toBeLessThan(a[2]!);
    await pacer.stop();
  });

  it('sends final updates before progress updates waiting in the same scope', async () => {
    const pacer = new Pacer({ buckets: { edit: { minTimeMs: 50 } } });
    const order: string[] = [];
    const run =
      (name: string, ms = 0) =>
      async () => {
        order.push(name);
        await new Promise((r) => setTimeout(r, ms));
      };
    // While the first request is in flight, the others queue; the final one must jump ahead.
    await Promise.all([
      pacer.schedule('edit', 'A', run('first', 100), 'progress'),
      pacer.schedule('edit', 'A', run('p1'), 'progress'),
      pacer.schedule('edit', 'A', run('p2'), 'progress'),
      pacer.schedule('edit', 'A', run('final'), 'final'),
    ]);
    expect(order.indexOf('final')).toBeLessThan(order.indexOf('p1'));
    await pacer.stop();
  });

  it('holds a scope for Retry-After after a 429, and counts the outcome', async () => {
    const outcomes: string[] = [];
    const pacer = new Pacer({ buckets: { post: {} } }, { onRequest: (bucket, outcome) => outcomes.push(`${bucket}:${outcome}`) });
    const first = pacer.schedule('post', 'C1', async () => {
      throw new RateLimitError('post:C1', 300);
    });
    await expect(first).rejects.toBeInstanceOf(RateLimitError);
    const started = Date.now();
    let ranAt = 0;
    await pacer.schedule('post', 'C1', async () => void (ranAt = Date.now()));
    expect(ranAt - started).toBeGreaterThanOrEqual(250);
    expect(outcomes).toEqual(['post:rate_limited', 'post:ok']);
    await pacer.stop();
  });

  it('says whether a scope has capacity now: nothing queued and budget left', async () => {
    const pacer = new Pacer({ buckets: { start: { perInterval: { amount: 2, intervalMs: 60_000 } } } });
    expect(await pacer.hasCapacity('start', 'T1')).toBe(true);
    await pacer.schedule('start', 'T1', async () => undefined);
    await pacer.schedule('start', 'T1', async () => undefined);
    expect(await pacer.hasCapacity('start', 'T1')).toBe(false);
    expect(await pacer.hasCapacity('start', 'T2')).toBe(true);
    await pacer.stop();
  });

  it('keeps a budget in every sliding window, also when requests straddle a refill (no 2 × budget in one window)', async () => {
    const pacer = new Pacer({ buckets: { start: { perInterval: { amount: 3, intervalMs: 300 } } } });
    const { starts, job } = recorder();
    const t0 = Date.now();
    const all = [pacer.schedule('start', 'T1', job('T1'))];
    await sleep(250);
    all.push(pacer.schedule('start', 'T1', job('T1')), pacer.schedule('start', 'T1', job('T1')));
    // Just after a refilling reservoir would have refilled (at 300 ms): three more.
    await sleep(t0 + 310 - Date.now());
    all.push(...[1, 2, 3].map(() => pacer.schedule('start', 'T1', job('T1'))));
    await Promise.all(all);
    const times = starts.map((x) => x.at);
    expect(times).toHaveLength(6);
    // Any 4 consecutive starts span at least the window: never 4 in 300 ms.
    for (let i = 0; i + 3 < times.length; i++) expect(times[i + 3]! - times[i]!, `starts ${times.map((t) => t - t0).join(', ')}`).toBeGreaterThanOrEqual(298);
    await pacer.stop();
  });

  it('shares a sliding budget across instances through Redis', async () => {
    const keyPrefix = uniquePrefix('window');
    const stores = [await openStore(REDIS_URL, { keyPrefix }), await openStore(REDIS_URL, { keyPrefix })];
    const [one, two] = stores.map((s) => new Pacer({ buckets: { start: { perInterval: { amount: 2, intervalMs: 400 } } }, window: windowLog(s) }));
    const { starts, job } = recorder();
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => (i % 2 ? one! : two!).schedule('start', 'T1', job('T1'))));
    const times = starts.map((x) => x.at).sort((a, b) => a - b);
    // Six requests from two "processes", two per 400 ms window between them.
    // Jobs record their own start, a little after admission (see above): room for that jitter, none for a third request per window.
    for (let i = 0; i + 2 < times.length; i++) expect(times[i + 2]! - times[i]!).toBeGreaterThanOrEqual(300);
    expect(await one!.hasCapacity('start', 'T1')).toBe(false);
    expect(await two!.hasCapacity('start', 'T2')).toBe(true);
    await Promise.all([one!.stop(), two!.stop()]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('shares one budget across instances through Redis', async () => {
    patchBottleneckForRedis7();
    const id = uniquePrefix('pacer');
    const make = () => {
      const connection = new Bottleneck.IORedisConnection({ clientOptions: { host: '127.0.0.1', port: REDIS_PORT } });
      connections.push(connection);
      return new Pacer({ buckets: { update: { minTimeMs: 150 } }, cluster: { id, connection } });
    };
    const [one, two] = [make(), make()];
    const { starts, job } = recorder();
    await Promise.all([
      one.schedule('update', 'T1', job('T1')),
      two.schedule('update', 'T1', job('T1')),
      one.schedule('update', 'T1', job('T1')),
      two.schedule('update', 'T1', job('T1')),
    ]);
    const times = starts.map((s) => s.at).sort((a, b) => a - b);
    // Four requests from two "processes" in one scope: spaced as if they came from one, so the
    // four starts span at least three spacings. Measured on the whole span: a start recorded late
    // by a busy event loop (CI runs suites in parallel) shortens the next gap but not the span.
    // Unshared limiters would start two at once, twice (a span of one spacing).
    expect(times).toHaveLength(4);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(3 * 150 - 30);
    await Promise.all([one.stop(), two.stop()]);
  });

  it('learns a limit from the first 429 and retries: a burst meets one 429, every request gets through', async () => {
    // A platform allowing 3 requests per fixed 300 ms window, answering 429 beyond them.
    let windowStart = 0;
    let count = 0;
    let limited = 0;
    const platform = async () => {
      const t = Date.now();
      if (t - windowStart >= 300) (windowStart = t), (count = 0);
      if (count >= 3) {
        limited++;
        throw new RateLimitError('test', windowStart + 300 - t);
      }
      count++;
    };
    const pacer = new Pacer({ buckets: { post: { learn: { windowMs: 300, forMs: 60_000 } } } });
    await Promise.all(Array.from({ length: 10 }, () => pacer.schedule('post', 'C1', platform, 'normal', { retries: 3 })));
    // One 429 teaches the limit. The pacer counts a request when it lets it go and the platform
    // when it arrives: on a loaded machine that gap can cost one more 429, never a 429 per window
    // (unlearned, this burst meets one for every request past the third of each window).
    expect(limited).toBeGreaterThanOrEqual(1);
    expect(limited).toBeLessThanOrEqual(2);
    expect(pacer.learnedLimit('post', 'C1')).toEqual({ amount: 3, intervalMs: 300 });
    // Another scope learned nothing.
    expect(pacer.learnedLimit('post', 'C2')).toBeUndefined();
    await pacer.stop();
  });

  it('rethrows a 429 without retries, and holds an empty bucket until the reset it reported', async () => {
    const pacer = new Pacer({ buckets: { edit: {} } });
    const err = await pacer
      .schedule('edit', 'A', async () => {
        throw new RateLimitError('test', 10);
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    // The platform said the bucket is empty for a while: no capacity until then.
    pacer.observe('edit', 'B', { remaining: 0, resetAfterMs: 60_000, limit: 5 });
    expect(await pacer.hasCapacity('edit', 'B')).toBe(false);
    // Half the bucket or more left: requests go at once.
    pacer.observe('edit', 'C', { remaining: 4, resetAfterMs: 60_000, limit: 5 });
    expect(await pacer.hasCapacity('edit', 'C')).toBe(true);
    await pacer.stop();
  });

  it('drops an optional request when it is no longer wanted or the global budget is half spent, beyond what is reserved', async () => {
    // A budget no test outlasts: what goes and what is dropped depends on counts alone.
    const pacer = new Pacer({ global: { perInterval: { amount: 8, intervalMs: 60_000 } }, buckets: { typing: {}, post: {} } });
    const sent: string[] = [];
    const typing = (name: string, wanted?: () => boolean) => pacer.scheduleOptional('typing', name, async () => (sent.push(name), name), wanted);
    expect(await typing('unwanted', () => false)).toBeUndefined();
    expect(await typing('t1')).toBe('t1');
    await pacer.schedule('post', 'C', async () => undefined);
    await pacer.schedule('post', 'C', async () => undefined);
    // 3 of 8 spent: one more optional request fits in the half, then they are dropped.
    expect(await typing('t2')).toBe('t2');
    expect(await typing('t3')).toBeUndefined();
    expect(sent).toEqual(['t1', 't2']);

    // A reservation for coming first words shrinks the half that optional requests may use.
    const other = new Pacer({ global: { perInterval: { amount: 8, intervalMs: 60_000 } }, buckets: { typing: {} } });
    const release = other.reserveGlobal();
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await other.scheduleOptional('typing', `T${i}`, async () => i));
    expect(results).toEqual([0, 1, 2, undefined]);
    release();
    await Promise.all([pacer.stop(), other.stop()]);
  });

  it('lets a progress request held by a half-spent bucket go once it is hurried (it now carries final text)', async () => {
    const pacer = new Pacer({ buckets: { edit: {} } });
    // One request left of five, ten minutes to the reset (past the test's timeout): progress is held for five.
    pacer.observe('edit', 'A', { remaining: 1, resetAfterMs: 600_000, limit: 5 });
    const hurry = new AbortController();
    let sent = false;
    const held = pacer.schedule('edit', 'A', async () => void (sent = true), 'progress', { hurry: hurry.signal });
    await sleep(50);
    expect(sent).toBe(false);
    hurry.abort();
    await held;
    expect(sent).toBe(true);
    await pacer.stop();
  });

  it('counts requests a client library sent itself against the global budget', async () => {
    const settings = { global: { perInterval: { amount: 4, intervalMs: 60_000 } }, buckets: { typing: {} } };
    const [counted, uncounted] = [new Pacer(settings), new Pacer(settings)];
    // Half of 4 is what optional requests may use: two requests counted elsewhere leave none.
    await counted.countGlobal();
    await counted.countGlobal();
    expect(await counted.scheduleOptional('typing', 'C', async () => 'sent')).toBeUndefined();
    expect(await uncounted.scheduleOptional('typing', 'C', async () => 'sent')).toBe('sent');
    await Promise.all([counted.stop(), uncounted.stop()]);
  });

  it('keeps reserved global requests for first words: progress waits for the budget, first words still go', async () => {
    const pacer = new Pacer({ global: { perInterval: { amount: 4, intervalMs: 3_000 } }, buckets: { edit: {}, post: {} } });
    const release = pacer.reserveGlobal();
    expect(pacer.reservedGlobal()).toBe(1);
    const done: string[] = [];
    const run = (name: string) => async () => void done.push(name);
    // Three progress edits use what is not reserved; a fourth waits.
    await Promise.all(['A', 'B', 'C'].map((s) => pacer.schedule('edit', s, run(`edit ${s}`), 'progress')));
    const waiting = pacer.schedule('edit', 'D', run('edit D'), 'progress');
    // The reply's first words take the slot kept for them at once.
    await pacer.schedule('post', 'E', run('first words E'), 'first');
    release();
    release(); // idempotent
    expect(pacer.reservedGlobal()).toBe(0);
    // The fourth edit goes once the window frees a request.
    await waiting;
    expect(done).toEqual(['edit A', 'edit B', 'edit C', 'first words E', 'edit D']);
    // At most half the budget is kept, however many replies wait for their first words.
    const many = Array.from({ length: 5 }, () => pacer.reserveGlobal());
    expect(pacer.reservedGlobal()).toBe(2);
    for (const r of many) r();
    await pacer.stop();
  });
});
