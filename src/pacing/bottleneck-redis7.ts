import Bottleneck from 'bottleneck';

/**
 * Bottleneck 2.19.5 (the last release) clusters limiters through Lua scripts on Redis. When a
 * limiter's settings key expired or its client timed out, the scripts answer
 * `SETTINGS_KEY_NOT_FOUND` / `UNKNOWN_CLIENT`, and Bottleneck re-initialises or re-registers —
 * but only if the error message is exactly that string. Redis 7 prefixes script errors with
 * `ERR `, so the comparison never matches and the limiter keeps failing (upstream issues #205,
 * #212, #219).
 *
 * The fix chosen: a thin wrapper at the one seam every script call passes through, the
 * ioredis connection's `__scriptArgs__`, which builds the reply callback. It strips the
 * prefix from those two errors only, so Bottleneck's own recovery runs unchanged. Chosen over
 * a fork (none maintained with clustering intact) and over an install-time patch (which
 * silently stops applying when the file changes); this one is covered by a test against a
 * real Redis 7 that fails if the recovery stops working.
 */
const RECOVERABLE = /^ERR (SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT)\b/;
const PATCHED = Symbol.for('parley.bottleneck-redis7');

type ScriptCallback = (err: Error | null, replies: unknown) => void;
interface ScriptConnection {
  __scriptArgs__(name: string, id: string, args: unknown[], cb: ScriptCallback): unknown[];
  [PATCHED]?: boolean;
}

export function patchBottleneckForRedis7(): void {
  const proto = (Bottleneck as unknown as { IORedisConnection: { prototype: ScriptConnection } }).IORedisConnection.prototype;
  if (proto[PATCHED]) return;
  const original = proto.__scriptArgs__;
  proto.__scriptArgs__ = function (this: ScriptConnection, name, id, args, cb) {
    return original.call(this, name, id, args, (err, replies) => {
      const m = err && RECOVERABLE.exec(err.message);
      if (m) err!.message = m[1]!;
      cb(err, replies);
    });
  };
  proto[PATCHED] = true;
}
