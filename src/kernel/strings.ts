import { randomUUID } from 'node:crypto';

/**
 * `s` as one flat string. A string built by concatenation (`${ns}:${key}`, Node's `randomUUID`,
 * which joins 20 pieces) is a V8 rope: whatever keeps it keeps every piece and a 32-byte node
 * per join (issue 19: heap snapshots after 2,000 replies and with 1,000 answers in flight).
 * Strings shorter than V8's shortest rope (13 characters) are always flat. A JSON round trip
 * copies any string exactly, lone surrogates included.
 */
export function flat(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

/** A random UUID as one flat string (~56 bytes instead of a ~400-byte rope for as long as it lives). */
export function newId(): string {
  return flat(randomUUID());
}
