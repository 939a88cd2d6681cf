import { z } from 'zod';

/** An http(s) URL with a host: what every URL setting (environment or config file) takes. */
export const httpUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'expected an http(s) URL such as https://api.openai.com/v1' },
);

/** A regex source that must compile with `flags` (checked at load, so a typo fails at start, naming the key). */
export function regexSource(flags: string) {
  return z
    .string()
    .min(1)
    .refine(
      (s) => {
        try {
          new RegExp(s, flags);
          return true;
        } catch {
          return false;
        }
      },
      { message: 'not a valid regular expression' },
    );
}
