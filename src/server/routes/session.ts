import { Hono } from 'hono';
import { type ApiResponse, loginBody, passwordChangeBody, setupBody } from '../api-schema.js';
import {
  type AppEnv,
  checkOrigin,
  clearSessionCookie,
  clientAddress,
  requireAuth,
  sessionOf,
  setSessionCookie,
} from '../auth.js';
import { readBody, type ServerDeps } from '../context.js';
import { ConflictError, ForbiddenError, UnauthorizedError } from '../errors.js';
import { csrfFor, hashPassword, verifyPassword } from '../security/crypto.js';

/**
 * `/api/v1/session`: first-run setup of the admin password, login, logout, password change.
 * `GET` tells the console whether setup is needed and, with a live session, its CSRF token.
 */
export function sessionRoutes(deps: ServerDeps): Hono<AppEnv> {
  const { store, loginLimiter: limiter } = deps;
  const app = new Hono<AppEnv>();

  app.get('/', async (c) => {
    const session = await sessionOf(c, store);
    return c.json({
      setupRequired: (await store.passwordHash()) === undefined,
      authenticated: session !== undefined,
      ...(session ? { csrfToken: csrfFor(session.token) } : {}),
    } satisfies ApiResponse<'session'>);
  });

  // First run only: whoever reaches a fresh server first sets the password, which is why the server
  // listens on loopback by default (or takes ASHPIPE_ADMIN_PASSWORD and never offers setup).
  app.post('/setup', async (c) => {
    checkOrigin(c);
    const body = await readBody(c, setupBody);
    if ((await store.passwordHash()) !== undefined) {
      throw new ConflictError('The admin password is already set; log in instead.', 'setup_done');
    }
    if (!(await store.setPasswordHash(await hashPassword(body.password)))) {
      throw new ConflictError('The admin password is already set; log in instead.', 'setup_done');
    }
    const { token, csrfToken } = await store.createSession();
    setSessionCookie(c, token, deps.secureCookies);
    deps.logger.info('admin password set');
    return c.json({ authenticated: true, csrfToken } satisfies ApiResponse<'loggedIn'>, 201);
  });

  app.post('/', async (c) => {
    checkOrigin(c);
    const client = clientAddress(c);
    limiter.check(client);
    const body = await readBody(c, loginBody);
    const hash = await store.passwordHash();
    if (hash === undefined) throw new ForbiddenError('Set the admin password first.', 'setup_required');
    const attempt = await limiter.begin(client);
    try {
      if (!(await verifyPassword(body.password, hash))) {
        deps.logger.warn('failed console login', { client });
        throw new UnauthorizedError('Wrong password.', 'wrong_password');
      }
      attempt.succeeded();
    } finally {
      attempt.done();
    }
    const { token, csrfToken } = await store.createSession();
    setSessionCookie(c, token, deps.secureCookies);
    return c.json({ authenticated: true, csrfToken } satisfies ApiResponse<'loggedIn'>);
  });

  const authed = new Hono<AppEnv>();
  authed.use(requireAuth(store));

  authed.delete('/', async (c) => {
    const principal = c.get('principal');
    if (principal.kind === 'session') await store.deleteSession(principal.tokenHash);
    clearSessionCookie(c);
    return c.body(null, 204);
  });

  authed.put('/password', async (c) => {
    const body = await readBody(c, passwordChangeBody);
    const hash = await store.passwordHash();
    const client = clientAddress(c);
    const attempt = await limiter.begin(client);
    try {
      if (hash === undefined || !(await verifyPassword(body.currentPassword, hash))) {
        throw new UnauthorizedError('Wrong current password.', 'wrong_password');
      }
      attempt.succeeded();
    } finally {
      attempt.done();
    }
    await store.setPasswordHash(await hashPassword(body.newPassword), true);
    // Every other browser is logged out; this one gets a fresh session.
    await store.deleteAllSessions();
    // A password changed because it leaked may have leaked with tokens made from its sessions.
    const revokedTokens = body.revokeTokens === true ? await store.deleteAllApiTokens() : 0;
    const { token, csrfToken } = await store.createSession();
    setSessionCookie(c, token, deps.secureCookies);
    deps.logger.info('admin password changed', { revokedTokens });
    return c.json({ authenticated: true, csrfToken, revokedTokens } satisfies ApiResponse<'passwordChanged'>);
  });

  app.route('/', authed);
  return app;
}
