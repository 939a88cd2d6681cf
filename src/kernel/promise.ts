/**
 * Calls `f` and hands on its promise; a synchronous throw becomes a rejection, as it would in an
 * async function. For layers that only start the next one: an `async` wrapper would stay
 * suspended (a generator, a promise, a context) for as long as the promise is pending, e.g. for
 * every open streaming answer (issue 19).
 */
export function attempt<T>(f: () => Promise<T>): Promise<T> {
  try {
    return f();
  } catch (err) {
    return Promise.reject(err);
  }
}
