import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asJson, type Harness, harness, PASSWORD } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0] ?? '';
}

describe('first-run setup and login', () => {
  it('asks for setup on a fresh server, then refuses a second setup', async () => {
    const before = await (await h.request('/api/v1/session')).json().then(asJson);
    expect(before).toEqual({ setupRequired: true, authenticated: false });

    const short = await h.request('/api/v1/session/setup', json({ password: 'short' }));
    expect(short.status).toBe(422);
    expect((await short.json().then(asJson)).error.code).toBe('validation_failed');

    const res = await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    expect(res.status).toBe(201);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^ashpipe_session=s_/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);

    const again = await h.request('/api/v1/session/setup', json({ password: 'another long password' }));
    expect(again.status).toBe(409);
    expect((await again.json().then(asJson)).error.code).toBe('setup_done');
  });

  it('stores a salted scrypt hash of the password and only hashes of session cookies', async () => {
    const res = await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    const token = cookieOf(res).split('=')[1] ?? '';
    const hash = (await h.deps.store.passwordHash()) ?? '';
    expect(hash).toMatch(/^scrypt\$/);
    expect(hash).not.toContain(PASSWORD);
    const sessions = h.control.db.prepare('SELECT * FROM console_sessions').all();
    expect(JSON.stringify(sessions)).not.toContain(token);
    expect(sessions).toHaveLength(1);
  });

  it('takes the admin password from ASHPIPE_ADMIN_PASSWORD and never offers setup', async () => {
    await h.close();
    h = await harness({ env: { ASHPIPE_ADMIN_PASSWORD: 'from the environment' } });
    expect((await (await h.request('/api/v1/session')).json().then(asJson)).setupRequired).toBe(false);
    expect((await h.request('/api/v1/session/setup', json({ password: PASSWORD }))).status).toBe(409);
    expect((await h.request('/api/v1/session', json({ password: 'from the environment' }))).status).toBe(200);
  });

  it('logs in with the right password, returns the CSRF token, and logs out', async () => {
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    const wrong = await h.request('/api/v1/session', json({ password: 'not the password' }));
    expect(wrong.status).toBe(401);
    const res = await h.request('/api/v1/session', json({ password: PASSWORD }));
    expect(res.status).toBe(200);
    const cookie = cookieOf(res);
    const { csrfToken } = await res.json().then(asJson);
    const state = await (await h.request('/api/v1/session', { headers: { cookie } })).json().then(asJson);
    expect(state).toEqual({ setupRequired: false, authenticated: true, csrfToken });

    const logout = await h.request('/api/v1/session', {
      method: 'DELETE',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    expect(logout.status).toBe(204);
    expect((await h.request('/api/v1/credentials', { headers: { cookie } })).status).toBe(401);
  });

  it('rate limits failed logins per client: the sixth attempt is refused even with the right password', async () => {
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    for (let i = 0; i < 5; i++) {
      expect((await h.request('/api/v1/session', json({ password: `wrong ${i} password` }))).status).toBe(
        401,
      );
    }
    const limited = await h.request('/api/v1/session', json({ password: PASSWORD }));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await limited.json().then(asJson)).error.code).toBe('too_many_requests');
  });

  it('refuses a login posted from another site (login CSRF)', async () => {
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    const res = await h.request(
      'http://127.0.0.1:4100/api/v1/session',
      json({ password: PASSWORD }, { origin: 'https://evil.example', host: '127.0.0.1:4100' }),
    );
    expect(res.status).toBe(403);
    expect((await res.json().then(asJson)).error.code).toBe('csrf_failed');
  });
});

describe('authentication and CSRF on the API', () => {
  let cookie: string;
  let csrf: string;
  beforeEach(async () => {
    const res = await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    cookie = cookieOf(res);
    csrf = (await res.json().then(asJson)).csrfToken;
  });

  const secured = [
    ['GET', '/api/v1/credentials'],
    ['POST', '/api/v1/credentials'],
    ['GET', '/api/v1/flows'],
    ['POST', '/api/v1/flows'],
    ['POST', '/api/v1/flows/flow_x/run'],
    ['GET', '/api/v1/runs'],
    ['GET', '/api/v1/runs/run_x/events'],
    ['GET', '/api/v1/datasets/candidates/preview'],
    ['GET', '/api/v1/datasets?flowId=flow_x'],
    ['GET', '/api/v1/quarantine'],
    ['GET', '/api/v1/tokens'],
    ['GET', '/api/v1/streams'],
    ['GET', '/api/v1/operations'],
    ['POST', '/api/v1/flows/test'],
    ['PUT', '/api/v1/flows/flow_x'],
    ['POST', '/api/v1/flows/flow_x/cancel'],
    ['GET', '/api/v1/quarantine/export'],
    ['GET', '/api/v1/quarantine/1'],
    ['POST', '/api/v1/quarantine/replay'],
    ['DELETE', '/api/v1/tokens/tok_x'],
    ['POST', '/api/v1/credentials/cred_x/probe'],
  ] as const;

  it.each(secured.filter(([method]) => method !== 'GET'))(
    '%s %s refuses the cookie without the CSRF token',
    async (method, p) => {
      const res = await h.request(p, {
        method,
        headers: { cookie, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(403);
      expect((await res.json().then(asJson)).error.code).toBe('csrf_failed');
    },
  );

  it.each(secured)('%s %s needs a session or a token', async (method, p) => {
    const res = await h.request(p, {
      method,
      headers: { 'content-type': 'application/json' },
      body: method === 'GET' ? null : '{}',
    });
    expect(res.status).toBe(401);
    expect((await res.json().then(asJson)).error).toMatchObject({ code: 'unauthorized' });
  });

  it('refuses a mutating request with the cookie but without the right X-CSRF-Token', async () => {
    const body = JSON.stringify({ name: 'x', apiKey: 'ashby-key-123456' });
    const headers = { cookie, 'content-type': 'application/json' };
    const none = await h.request('/api/v1/credentials', { method: 'POST', headers, body });
    expect(none.status).toBe(403);
    expect((await none.json().then(asJson)).error.code).toBe('csrf_failed');
    const wrong = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers: { ...headers, 'x-csrf-token': `${csrf}x` },
      body,
    });
    expect(wrong.status).toBe(403);
    const crossSite = await h.request('http://127.0.0.1:4100/api/v1/credentials', {
      method: 'POST',
      headers: { ...headers, 'x-csrf-token': csrf, origin: 'https://evil.example', host: '127.0.0.1:4100' },
      body,
    });
    expect(crossSite.status).toBe(403);
    expect(await h.deps.services.credentials.list()).toHaveLength(0);
    const ok = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers: { ...headers, 'x-csrf-token': csrf },
      body,
    });
    expect(ok.status).toBe(201);
  });

  it('issues API tokens shown once and stored hashed; Bearer requests need no CSRF token; revoked tokens stop working', async () => {
    const created = await h.request(
      '/api/v1/tokens',
      json({ name: 'nightly script' }, { cookie, 'x-csrf-token': csrf }),
    );
    expect(created.status).toBe(201);
    const { apiToken, plaintext } = await created.json().then(asJson);
    expect(plaintext).toMatch(/^ashp_/);
    const listed = await (await h.request('/api/v1/tokens', { headers: { cookie } })).text();
    expect(listed).toContain(apiToken.id);
    expect(listed).not.toContain(plaintext);
    expect(JSON.stringify(h.control.db.prepare('SELECT * FROM api_tokens').all())).not.toContain(plaintext);

    const auth = { authorization: `Bearer ${plaintext}` };
    expect((await h.request('/api/v1/flows', { headers: auth })).status).toBe(200);
    const post = await h.request(
      '/api/v1/credentials',
      json({ name: 'via token', apiKey: 'ashby-key-abcdef' }, auth),
    );
    expect(post.status).toBe(201);

    const revoke = await h.request(`/api/v1/tokens/${apiToken.id}`, {
      method: 'DELETE',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(revoke.status).toBe(204);
    const after = await h.request('/api/v1/flows', { headers: auth });
    expect(after.status).toBe(401);
    expect((await after.json().then(asJson)).error.code).toBe('invalid_token');
  });

  it('answers unknown API routes with a 404 error body and serves its own OpenAPI document', async () => {
    const res = await h.request('/api/v1/nope', { headers: { cookie } });
    expect(res.status).toBe(404);
    expect((await res.json().then(asJson)).error.code).toBe('not_found');
    const doc = await (await h.request('/api/v1/openapi.json')).json().then(asJson);
    expect(doc.openapi).toBe('3.1.0');
    for (const p of [
      '/credentials',
      '/credentials/{id}/probe',
      '/flows/{id}/run',
      '/runs/{id}/events',
      '/quarantine/replay',
      '/quarantine/{id}/dismiss',
      '/datasets/{stream}/preview',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });
});
