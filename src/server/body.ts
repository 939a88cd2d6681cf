import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

/** The limit for a body read without one of its own (every route that reads a body names one). */
export const DEFAULT_MAX_BODY_BYTES = 1_000_000;

/**
 * The request body, at most `limitBytes`, refused while reading: a longer one throws an HttpError
 * 413 (`payload_too_large`, `connection: close`), which the server answers with the one error body.
 */
export function readBody(req: IncomingMessage, limitBytes = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  // `connection: close`: the rest of a refused body is discarded, never read into a later request on the same connection.
  const tooLarge = () => new HttpError(413, 'payload_too_large', `the request body is larger than ${limitBytes} bytes`, { headers: { connection: 'close' } });
  // A declared length over the limit is refused before reading a byte.
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) return void chunks.push(chunk);
      // Drop what was read and discard the rest as it arrives (nothing more is kept), so the
      // client can finish sending and read the 413. Closing the socket instead would make most
      // clients fail with EPIPE before they see the answer. REQUEST_TIMEOUT_MS bounds how long
      // a sender may keep a refused body coming.
      cleanup();
      chunks.length = 0;
      req.resume();
      reject(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
