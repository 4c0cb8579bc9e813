/**
 * Who can reach the console and how: logins are limited per (account, address) with a global slow-down
 * instead of a global lock; every listen address answers only to IP addresses, localhost and the names
 * it was given; the network is refused until a password is set; the environment password only seeds the
 * first one; a password change can revoke every API token.
 */
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/server/app.js';
import { LoginLimiter } from '../../src/server/auth.js';
import { buildDeps, type RunningServer, startServer } from '../../src/server/index.js';
import { asJson, type Harness, harness, PASSWORD, signedInHeaders } from './helpers.js';

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** A request as if from `address` (the node server's socket address). */
function from(h: Harness, address: string, url: string, init: RequestInit): Promise<Response> {
  return Promise.resolve(h.app.request(url, init, { incoming: { socket: { remoteAddress: address } } }));
}

describe('login limits', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('ten addresses guessing five times each lock themselves out, not the admin on an eleventh', {
    timeout: 90_000,
  }, async () => {
    h = await harness({ loginLimits: { slowDownStepMs: 1 } });
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    for (let a = 1; a <= 10; a++) {
      const statuses: number[] = [];
      for (let g = 0; g < 6; g++)
        statuses.push(
          (await from(h, `198.51.100.${a}`, '/api/v1/session', json({ password: `guess ${g}` }))).status,
        );
      expect(statuses, `address ${a}`).toEqual([401, 401, 401, 401, 401, 429]);
    }
    // Fifty failures from everywhere: every attempt is slowed down, nobody is locked out.
    expect(h.deps.loginLimiter.delayMs()).toBeGreaterThan(0);
    const admin = await from(h, '203.0.113.7', '/api/v1/session', json({ password: PASSWORD }));
    expect(admin.status).toBe(200);
    // The guessing addresses stay locked, even with the right password.
    const locked = await from(h, '198.51.100.3', '/api/v1/session', json({ password: PASSWORD }));
    expect(locked.status).toBe(429);
    expect((await locked.json().then(asJson)).error.message).toMatch(/from this address/);
  });

  it('the slow-down grows with the failures beyond the threshold, up to its cap', () => {
    let now = 0;
    const limiter = new LoginLimiter(
      { slowDownAfter: 3, slowDownStepMs: 100, maxSlowDownMs: 250, maxFailures: 100 },
      () => now,
    );
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      delays.push(limiter.delayMs());
      limiter.fail(`10.0.0.${i}`);
    }
    expect(delays).toEqual([0, 0, 0, 100, 200, 250]);
    now += 15 * 60 * 1000 + 1;
    expect(limiter.delayMs()).toBe(0);
  });

  it('checks at most a few passwords at once: the rest wait their turn', async () => {
    const limiter = new LoginLimiter({ maxConcurrentChecks: 2, maxFailures: 100 });
    const started: number[] = [];
    const attempts = Array.from({ length: 5 }, (_, i) =>
      limiter.begin(`10.1.0.${i}`).then((a) => {
        started.push(i);
        return a;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    (await attempts[0])?.done();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const a of attempts) (await a).done();
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('passwords and tokens', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('ASHPIPE_ADMIN_PASSWORD only seeds the first password: one changed in the console survives a restart', async () => {
    h = await harness({ env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD } });
    const login = await h.request('/api/v1/session', json({ password: PASSWORD }));
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = (await login.json().then(asJson)).csrfToken;
    const changed = await h.request('/api/v1/session/password', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf },
      body: JSON.stringify({ currentPassword: PASSWORD, newPassword: 'a brand new passphrase' }),
    });
    expect(changed.status).toBe(200);
    // A restart with the same environment.
    const lines: string[] = [];
    const { Logger } = await import('../../src/util/logger.js');
    const restarted = await buildDeps(h.typed, {
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD, ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      logger: new Logger({ sink: (l) => lines.push(l) }),
    });
    const { createApp } = await import('../../src/server/app.js');
    const app = createApp(restarted);
    expect((await app.request('/api/v1/session', json({ password: 'a brand new passphrase' }))).status).toBe(
      200,
    );
    expect((await app.request('/api/v1/session', json({ password: PASSWORD }))).status).toBe(401);
    expect(lines.join('\n')).toContain('ASHPIPE_ADMIN_PASSWORD is ignored');
    await restarted.scheduler.stop({ abort: true });
  });

  it('a password change revokes every API token when asked, and keeps them otherwise', async () => {
    h = await harness();
    let headers: Record<string, string> = await signedInHeaders(h);
    const token = async () =>
      (
        await (
          await h.request('/api/v1/tokens', { method: 'POST', headers, body: JSON.stringify({ name: 'ci' }) })
        )
          .json()
          .then(asJson)
      ).plaintext as string;
    const works = async (t: string) =>
      (await h.request('/api/v1/flows', { headers: { authorization: `Bearer ${t}` } })).status;
    const change = async (currentPassword: string, newPassword: string, revokeTokens?: boolean) => {
      const res = await h.request('/api/v1/session/password', {
        method: 'PUT',
        headers,
        body: JSON.stringify({
          currentPassword,
          newPassword,
          ...(revokeTokens !== undefined ? { revokeTokens } : {}),
        }),
      });
      expect(res.status).toBe(200);
      const body = await res.json().then(asJson);
      headers = {
        ...headers,
        cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
        'x-csrf-token': body.csrfToken,
      };
      return body.revokedTokens as number;
    };
    const kept = await token();
    expect(await change(PASSWORD, 'second passphrase here')).toBe(0);
    expect(await works(kept)).toBe(200);
    const another = await token();
    expect(await change('second passphrase here', 'third passphrase here', true)).toBe(2);
    expect(await works(kept)).toBe(401);
    expect(await works(another)).toBe(401);
  });
});

/** A raw HTTP request with a chosen Host header (fetch does not let a caller set Host). */
function get(
  port: number,
  host: string,
  pathname: string,
  address = '127.0.0.1',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path: pathname, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('listen addresses and Host names', () => {
  let server: RunningServer | undefined;
  const homes: string[] = [];
  const home = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-access-'));
    homes.push(dir);
    return dir;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
    for (const d of homes.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('refuses to listen beyond loopback before the admin password is set', async () => {
    const dir = home();
    await expect(startServer({ home: dir, env: {}, port: 0, host: '0.0.0.0' })).rejects.toThrow(
      /refusing to listen on 0.0.0.0 before the admin password is set/,
    );
    // With the password set, it starts.
    server = await startServer({
      home: dir,
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD },
      port: 0,
      host: '0.0.0.0',
    });
    expect(server.port).toBeGreaterThan(0);
  });

  it('a server on 0.0.0.0 answers IP addresses, localhost and --allowed-host names; a rebinding name gets 403', async () => {
    server = await startServer({
      home: home(),
      env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD },
      port: 0,
      host: '0.0.0.0',
      allowedHosts: ['ashpipe.example.com'],
    });
    const port = server.port;
    const rebind = await get(port, `rebind.attacker.example:${port}`, '/api/v1/session');
    expect(rebind.status).toBe(403);
    expect(JSON.parse(rebind.body).error.code).toBe('host_not_allowed');
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      `10.1.2.3:${port}`,
      `ashpipe.example.com:${port}`,
    ])
      expect((await get(port, host, '/api/v1/session')).status, host).toBe(200);
  });

  it('treats all of 127.0.0.0/8 as loopback: a server on 127.0.0.2 answers its own address', async () => {
    expect(['127.0.0.2', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::'].some(isLoopback)).toBe(false);
    // A fresh home without a password: loopback needs none.
    server = await startServer({ home: home(), env: {}, port: 0, host: '127.0.0.2' });
    const res = await get(server.port, `127.0.0.2:${server.port}`, '/api/v1/session', '127.0.0.2');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).setupRequired).toBe(true);
  });
});
