import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ForbiddenError, TooManyRequestsError, UnauthorizedError } from './errors.js';
import { hashToken, sameDigest } from './security/crypto.js';
import type { ServerStore } from './store.js';

/** Name of the HttpOnly session cookie. */
export const SESSION_COOKIE = 'ashpipe_session';
/** Header that carries the session's CSRF token on every mutating request made with the cookie. */
export const CSRF_HEADER = 'X-CSRF-Token';

/** Who made a request. */
export type Principal =
  | { kind: 'session'; tokenHash: string; csrfHash: string }
  | { kind: 'token'; tokenId: string };

export type AppEnv = {
  Variables: {
    principal: Principal;
    /** A secret this answer shows on purpose, once (a new webhook secret): redaction leaves it alone. */
    revealed?: string;
  };
};

/** Limits on failed console logins. */
export interface LoginLimitOptions {
  /**
   * Failed attempts allowed per client address within `windowMs`; that address is then refused (429)
   * until its oldest failure leaves the window. Other addresses are not affected.
   * @default 5
   */
  maxFailures?: number;
  /**
   * Failed attempts from all addresses together within `windowMs` after which every attempt is slowed
   * down (a distributed guess): nobody is locked out, each check waits first.
   * @default 50
   */
  slowDownAfter?: number;
  /**
   * Wait added to every attempt for each failure beyond `slowDownAfter`, up to `maxSlowDownMs`.
   * @default 250
   */
  slowDownStepMs?: number;
  /**
   * Longest wait of the global slow-down.
   * @default 5000
   */
  maxSlowDownMs?: number;
  /**
   * Password checks (scrypt) running at once; more wait their turn, so guessing cannot take the CPU.
   * @default 4
   */
  maxConcurrentChecks?: number;
  /**
   * Sliding window.
   * @default 900_000 (15 minutes)
   * @example 60_000
   */
  windowMs?: number;
  /** How to wait (tests). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/** The one console account: limits are kept per (account, address). */
const ADMIN = 'admin';

/**
 * Counts failed logins per (account, client address) in a sliding window, locking only that pair out, and
 * slows every attempt down while failures from all addresses together are many — a distributed attacker
 * (ten addresses × five guesses) slows the admin's login down a little but never locks it out.
 */
export class LoginLimiter {
  private readonly perClient = new Map<string, number[]>();
  private global: number[] = [];
  private readonly max: number;
  private readonly slowDownAfter: number;
  private readonly stepMs: number;
  private readonly maxDelayMs: number;
  private readonly windowMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxChecks: number;
  private checking = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    options: LoginLimitOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.max = options.maxFailures ?? 5;
    this.slowDownAfter = options.slowDownAfter ?? 50;
    this.stepMs = options.slowDownStepMs ?? 250;
    this.maxDelayMs = options.maxSlowDownMs ?? 5000;
    this.windowMs = options.windowMs ?? 15 * 60 * 1000;
    this.maxChecks = Math.max(1, options.maxConcurrentChecks ?? 4);
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private key(client: string): string {
    return `${ADMIN} ${client}`;
  }

  private recent(list: number[]): number[] {
    const since = this.now() - this.windowMs;
    return list.filter((t) => t > since);
  }

  /** Throws 429 when this address has failed too often lately; other addresses are not affected. */
  check(client: string): void {
    const mine = this.recent(this.perClient.get(this.key(client)) ?? []);
    if (mine.length >= this.max) {
      const oldest = mine[0] ?? this.now();
      const retry = Math.max(1, Math.ceil((oldest + this.windowMs - this.now()) / 1000));
      throw new TooManyRequestsError(
        `Too many failed logins from this address; try again in ${retry} seconds.`,
        retry,
      );
    }
  }

  /** The wait every attempt gets now: zero until failures from all addresses pass `slowDownAfter`. */
  delayMs(): number {
    this.global = this.recent(this.global);
    const excess = this.global.length - this.slowDownAfter;
    return excess < 0 ? 0 : Math.min(this.maxDelayMs, (excess + 1) * this.stepMs);
  }

  fail(client: string): void {
    const key = this.key(client);
    const mine = this.recent(this.perClient.get(key) ?? []);
    mine.push(this.now());
    this.perClient.set(key, mine);
    this.global.push(this.now());
  }

  succeed(client: string): void {
    this.perClient.delete(this.key(client));
  }

  /**
   * Checks the address and counts the attempt as failed before the password is verified, so that guesses
   * sent in parallel (hashing is asynchronous) are counted before they are checked; then waits out the
   * global slow-down and a free check slot. Call `succeeded` when the password was right (the attempt is
   * taken back and the address's count cleared) and `done` in every case.
   */
  async begin(client: string): Promise<{ succeeded(): void; done(): void }> {
    this.check(client);
    const at = this.now();
    const delay = this.delayMs();
    this.fail(client);
    if (delay > 0) await this.sleep(delay);
    if (this.checking >= this.maxChecks) await new Promise<void>((r) => this.waiting.push(r));
    this.checking += 1;
    let released = false;
    return {
      succeeded: () => {
        const i = this.global.lastIndexOf(at);
        if (i >= 0) this.global.splice(i, 1);
        this.succeed(client);
      },
      done: () => {
        if (released) return;
        released = true;
        this.checking -= 1;
        this.waiting.shift()?.();
      },
    };
  }
}

/** The remote address of the connection (node-server), or `local` for in-process requests. */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a request whose `Origin` (or, lacking it, `Referer`) names another site than the `Host` it
 * was sent to. Browsers send `Origin` on every cross-site POST, so this stops login CSRF, where no session
 * token exists yet. Scripts that send neither header are not browsers and pass.
 */
export function checkOrigin(c: Context): void {
  const host = c.req.header('host');
  const origin = c.req.header('origin') ?? c.req.header('referer');
  if (!host || !origin) return;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new ForbiddenError('The Origin header is not a URL.', 'csrf_failed');
  }
  if (originHost !== host) {
    throw new ForbiddenError(`Cross-site request refused (Origin ${originHost}).`, 'csrf_failed');
  }
}

/** Sets the session cookie: HttpOnly, SameSite=Strict, Path=/, Secure when the server is told to. */
export function setSessionCookie(c: Context, token: string, secure: boolean): void {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/', secure });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}

/** The session a request's cookie names, when live. */
export async function sessionOf(
  c: Context,
  store: ServerStore,
): Promise<{ token: string; tokenHash: string; csrfHash: string } | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return undefined;
  const session = await store.findSession(token);
  return session ? { token, ...session } : undefined;
}

/**
 * Requires a console session (cookie) or an API token (`Authorization: Bearer`). Mutating requests made
 * with the cookie must also carry the session's CSRF token in `X-CSRF-Token` (synchronizer-token pattern)
 * and, when the browser sends one, a same-site `Origin`. Bearer requests need no CSRF token: a browser
 * never attaches them on its own.
 */
export function requireAuth(store: ServerStore): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const authorization = c.req.header('authorization');
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      const tokenId = match?.[1] ? await store.verifyApiToken(match[1]) : undefined;
      if (!tokenId) throw new UnauthorizedError('The API token is not valid.', 'invalid_token');
      c.set('principal', { kind: 'token', tokenId });
      return next();
    }
    const session = await sessionOf(c, store);
    if (!session) throw new UnauthorizedError();
    if (!SAFE_METHODS.has(c.req.method)) {
      checkOrigin(c);
      const sent = c.req.header(CSRF_HEADER);
      if (!sent || !sameDigest(hashToken(sent), session.csrfHash)) {
        throw new ForbiddenError(`Missing or wrong ${CSRF_HEADER} header.`, 'csrf_failed');
      }
    }
    c.set('principal', { kind: 'session', tokenHash: session.tokenHash, csrfHash: session.csrfHash });
    return next();
  };
}
