import { attempt } from '../kernel/promise.js';

/**
 * A middleware: does its part, then calls `next()` for the rest of the chain (or answers and
 * does not). What it does after `await next()` runs once the rest has finished, as in Koa and Hono.
 */
export type Middleware<C> = (ctx: C, next: () => Promise<void>) => void | Promise<void>;

/**
 * The middlewares as one function, composed once when a route is declared (not per request).
 * Each step hands on the middleware's own promise instead of awaiting it, so a streaming answer
 * keeps no suspended frame per middleware (issue 19); a synchronous throw still rejects.
 */
export function compose<C>(middlewares: readonly Middleware<C>[]): (ctx: C) => Promise<void> {
  return (ctx) => {
    let last = -1;
    const run = (i: number): Promise<void> => {
      if (i <= last) return Promise.reject(new Error('next() called twice by one middleware'));
      last = i;
      const mw = middlewares[i];
      if (!mw) return Promise.resolve();
      return attempt(() => Promise.resolve(mw(ctx, () => run(i + 1))));
    };
    return run(0);
  };
}
