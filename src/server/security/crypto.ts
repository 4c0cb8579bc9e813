import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost parameters (N=2^15, r=8, p=1): OWASP's minimum for scrypt, about 50 ms per hash. */
const SCRYPT = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_LENGTH = 64;

/** Console passwords shorter than this are refused (the API's schema states it). */
export { MIN_PASSWORD_LENGTH } from '../api-schema.js';

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N: n, r, p, maxmem: SCRYPT.maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password with scrypt and a random 16-byte salt. The parameters travel with the hash
 * (`scrypt$N$r$p$salt$hash`) so they can be raised later without invalidating stored hashes.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Checks a password against {@link hashPassword}'s output in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** A random bearer secret (session, CSRF or API token), URL-safe, with an optional readable prefix. */
export function newSecret(prefix = ''): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 of a random secret. Fine for 256-bit random tokens (no dictionary to attack); passwords use
 * {@link hashPassword} instead.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** A short random id for flows, runs and tokens. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}

/**
 * The CSRF token of a session: an HMAC of the session token. The console reads it from
 * `GET /api/v1/session` (same origin only) and echoes it in `X-CSRF-Token`; a cross-site page can make the
 * browser send the HttpOnly cookie but can read neither the cookie nor the token.
 */
export function csrfFor(sessionToken: string): string {
  return `c_${createHmac('sha256', sessionToken).update('ashpipe-csrf-v1').digest('base64url')}`;
}
