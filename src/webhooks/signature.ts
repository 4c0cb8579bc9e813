/** `Ashby-Signature` checks (API-NOTES §7): HMAC-SHA256 of the raw body, compared in constant time. */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Name of the header Ashby signs deliveries with. */
export const SIGNATURE_HEADER = 'ashby-signature';

/** `sha256=` followed by the 32-byte digest in hex; anything else is malformed. */
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/** The header value Ashby sends for `body` signed with `secret`. */
export function signBody(body: string | Uint8Array, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Why a delivery's signature was refused; `undefined` when it is valid. */
export function signatureProblem(
  raw: Uint8Array,
  header: string | undefined,
  secret: string,
): string | undefined {
  if (header === undefined || header === '') return 'missing Ashby-Signature header';
  const match = SIGNATURE.exec(header.trim());
  if (!match?.[1]) return 'malformed Ashby-Signature header (expected sha256=<64 hex digits>)';
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(raw).digest();
  // Equal lengths are guaranteed by the pattern, so timingSafeEqual never throws here.
  return timingSafeEqual(given, expected) ? undefined : 'wrong Ashby-Signature';
}
