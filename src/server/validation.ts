import type { z } from 'zod';

/**
 * The first problem of a failed zod parse, as a 400 reports it: the field at fault and a message
 * that starts with it (`question: required`, `extra: unknown field`). A problem with the whole
 * value is reported under `root` when given (the dashboard says `body`), else with no field and
 * the bare message (the HTTP API).
 */
export function firstIssue(error: z.ZodError, root: string): { field: string; message: string };
export function firstIssue(error: z.ZodError, root?: string): { field?: string; message: string };
export function firstIssue(error: z.ZodError, root?: string): { field?: string; message: string } {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return { field: issue.keys[0], message: `${issue.keys[0]}: unknown field` };
  const field = issue.path.map(String).join('.') || root;
  return { field, message: field ? `${field}: ${issue.message}` : issue.message };
}
