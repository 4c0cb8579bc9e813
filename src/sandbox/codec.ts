import { createHmac, randomBytes } from 'node:crypto';

/**
 * Opaque cursors and sync tokens. Both are base64url JSON plus a MAC, so a garbled or foreign value is
 * detected and answered with `invalid_next_cursor` / `sync_token_invalid` as Ashby does.
 */

/** Where a list walk stands. */
export interface CursorState {
  /** Endpoint the cursor belongs to. */
  e: string;
  /** Next position: record position for full walks, change-log index for incremental ones. */
  p: number;
  /** Change-log sequence the walk started at: the syncToken of its last page. */
  s: number;
  /** End position fixed at the first page (full walks): records created later are for the next token. */
  n: number;
  /** Pages served so far in this walk. */
  g: number;
  /** Sequence of the syncToken the walk started from (incremental walks only). */
  t?: number;
  /** Expiry (epoch ms). */
  x: number;
}

export class Codec {
  private readonly secret: Buffer;
  constructor(secret?: Buffer) {
    this.secret = secret ?? randomBytes(16);
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url').slice(0, 12);
  }

  private seal(value: unknown): string {
    const payload = Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  private open(token: string): unknown {
    const dot = token.lastIndexOf('.');
    if (dot < 0) return undefined;
    const payload = token.slice(0, dot);
    if (this.mac(payload) !== token.slice(dot + 1)) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
  }

  cursor(state: CursorState): string {
    return this.seal(state);
  }

  readCursor(token: unknown): CursorState | undefined {
    if (typeof token !== 'string') return undefined;
    const v = this.open(token);
    if (typeof v !== 'object' || v === null) return undefined;
    const c = v as Record<string, unknown>;
    if (
      typeof c.e !== 'string' ||
      typeof c.p !== 'number' ||
      typeof c.s !== 'number' ||
      typeof c.n !== 'number'
    )
      return undefined;
    if (typeof c.g !== 'number' || typeof c.x !== 'number') return undefined;
    return c as unknown as CursorState;
  }

  syncToken(endpoint: string, seq: number): string {
    return this.seal({ k: endpoint, q: seq });
  }

  readSyncToken(token: unknown, endpoint: string): number | undefined {
    if (typeof token !== 'string') return undefined;
    const v = this.open(token);
    if (typeof v !== 'object' || v === null) return undefined;
    const t = v as Record<string, unknown>;
    if (t.k !== endpoint || typeof t.q !== 'number') return undefined;
    return t.q;
  }
}

/** A ULID-like request id: 26 Crockford base32 characters, time-ordered. */
export function requestId(): string {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let time = Date.now();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = alphabet[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const bytes = randomBytes(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += alphabet[(bytes[i] ?? 0) % 32];
  return head + tail;
}
