import { parseSince } from '../analytics/report.js';
import { HttpError } from '../server/errors.js';

/** An empty query parameter (`?profile=`, what a form's empty select sends) is an absent one. */
export const blankIsAbsent = (v: unknown): unknown => (v === '' || v === null ? undefined : v);

/** `since` as the CLI reads it (`7d`, `2026-11-01`); a 400 naming the parameter when it cannot. */
export function sinceParam(since: string, now: number): number {
  try {
    return parseSince(since, now);
  } catch (err) {
    throw new HttpError(400, 'invalid_request', `since: ${err instanceof Error ? err.message : String(err)}`, { field: 'since' });
  }
}
