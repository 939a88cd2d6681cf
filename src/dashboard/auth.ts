import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../server/errors.js';
import type { AuthScheme } from '../server/routes.js';

/**
 * Who may see the dashboard: whoever holds ADMIN_TOKEN. Browsers sign in with a form and get a
 * cookie holding an HMAC of the token (never the token itself); scripts send
 * `Authorization: Bearer <ADMIN_TOKEN>`.
 */
export const SESSION_COOKIE = 'parley_admin';

export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('parley-dashboard-session').digest('base64url');
}

/** Compares digests, which always have one length, so the time taken says nothing about the token's length either. */
export function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** The admin token as a bearer token, or the sign-in cookie: the dashboard's routes declare it as their auth. */
export function adminAuth(token: string): AuthScheme<'admin'> {
  return {
    name: 'admin',
    openapi: { adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or the dashboard sign-in cookie.' } },
    authenticate(req) {
      const auth = req.headers.authorization;
      if (auth?.startsWith('Bearer ') && same(auth.slice(7).trim(), token)) return 'admin';
      const cookie = cookieOf(req, SESSION_COOKIE);
      if (cookie !== undefined && same(cookie, sessionValue(token))) return 'admin';
      throw new HttpError(401, 'unauthorized', 'send Authorization: Bearer <ADMIN_TOKEN>, or sign in at /dashboard');
    },
  };
}
