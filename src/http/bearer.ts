import { timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

/**
 * A check of `Authorization: Bearer TOKEN` in constant time; with no token configured every
 * request passes (the caller decides whether that is allowed).
 */
export function bearerCheck(token: string | undefined): (req: http.IncomingMessage) => boolean {
  if (!token) return () => true;
  const expected = Buffer.from(`Bearer ${token}`);
  return (req) => {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}
