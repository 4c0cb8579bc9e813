import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asJson, type Harness, harness, PASSWORD } from './helpers.js';

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('login rate limit', () => {
  it('counts guesses sent in parallel: at most five of twenty are even checked', async () => {
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.request('/api/v1/session', json({ password: `guess ${i} wrong` })),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
  });

  it('a right password after parallel wrong ones is still refused while the window lasts', async () => {
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        h.request('/api/v1/session', json({ password: `guess ${i} wrong` })),
      ),
    );
    const res = await h.request('/api/v1/session', json({ password: PASSWORD }));
    expect(res.status).toBe(429);
    expect((await res.json().then(asJson)).error.code).toBe('too_many_requests');
  });

  it('a right password resets the client count without being counted as a failure', async () => {
    await h.request('/api/v1/session/setup', json({ password: PASSWORD }));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++)
        expect((await h.request('/api/v1/session', json({ password: `wrong ${i} password` }))).status).toBe(
          401,
        );
      expect((await h.request('/api/v1/session', json({ password: PASSWORD }))).status).toBe(200);
    }
  });
});

describe('file paths a flow may name', () => {
  const call = async (headers: Record<string, string>, body: unknown) =>
    h.request('/api/v1/flows', { method: 'POST', headers, body: JSON.stringify(body) });

  async function setup() {
    const { signedInHeaders } = await import('./helpers.js');
    const headers = await signedInHeaders(h);
    const cred = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'paths', apiKey: 'paths-key-0001' }),
    });
    expect(cred.status).toBe(201);
    return { headers, credentialId: (await cred.json().then(asJson)).credential.id as string };
  }

  it('refuses a destination input, SQL database or sync target that is the control store or the master key', async () => {
    const { headers, credentialId } = await setup();
    const destination = (input: Record<string, unknown>) => ({
      kind: 'destination',
      name: 'Exfiltrate',
      credentialId,
      operation: 'candidate.create',
      input,
      mapping: {},
    });
    const source = (target: Record<string, unknown>) => ({
      kind: 'source',
      name: 'Overwrite',
      credentialId,
      streams: ['candidates'],
      target,
    });
    const refused = [
      destination({ type: 'csv', path: `${h.home}/master.key` }),
      destination({ type: 'jsonl', path: `${h.home}/../${h.home.split('/').pop()}/control.db` }),
      destination({
        type: 'sql',
        database: `sqlite:${h.home}/control.db`,
        query: 'SELECT * FROM credentials',
      }),
      source({ type: 'sqlite', path: `${h.home}/control.db` }),
      source({ type: 'sqlite', path: `${h.home}/control.db-wal` }),
    ];
    for (const body of refused) {
      const res = await call(headers, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await res.json().then(asJson)).error.code).toBe('validation_failed');
    }
    const allowed = await call(headers, source({ type: 'sqlite', path: `${h.home}/ashby.db` }));
    expect(allowed.status).toBe(201);
  });

  it('refuses the control store through a symbolic link', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const link = path.join(h.home, '..', `${path.basename(h.home)}-link.db`);
    fs.symlinkSync(path.join(h.home, 'control.db'), link);
    try {
      const { headers, credentialId } = await setup();
      const res = await call(headers, {
        kind: 'source',
        name: 'Via link',
        credentialId,
        streams: ['candidates'],
        target: { type: 'sqlite', path: link },
      });
      expect(res.status).toBe(422);
    } finally {
      fs.rmSync(link, { force: true });
    }
  });
  it('checks again when a run starts: a flow saved before the check, or whose path became a link since, fails its run', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const cred = await h.deps.services.credentials.add({ name: 'later', apiKey: 'later-key-00001' });
    // Stored as an older version would have, without the check.
    const saved = h.deps.store.createFlow({
      kind: 'destination',
      name: 'Saved before',
      credentialId: cred.id,
      operation: 'candidate.create',
      input: { type: 'csv', path: path.join(h.home, 'master.key') },
      mapping: {},
      options: {},
    } as Parameters<typeof h.deps.store.createFlow>[0]);
    const first = await h.deps.scheduler.waitFor(h.deps.scheduler.trigger(saved.id, 'manual').id);
    expect(first?.status).toBe('failed');
    expect(first?.errors[0]?.message).toContain('refused to run flow "Saved before"');
    expect(first?.errors[0]?.message).toContain('master key');

    // Accepted when saved (nothing there yet), then the path became a link to the control store.
    const link = path.join(h.home, '..', `${path.basename(h.home)}-later.db`);
    const { headers, credentialId } = await setup();
    const created = await call(headers, {
      kind: 'source',
      name: 'Link later',
      credentialId,
      streams: ['candidates'],
      target: { type: 'sqlite', path: link },
    });
    expect(created.status).toBe(201);
    const flowId = (await created.json().then(asJson)).flow.id as string;
    fs.symlinkSync(path.join(h.home, 'control.db'), link);
    try {
      const run = await h.deps.scheduler.waitFor(h.deps.scheduler.trigger(flowId, 'manual').id);
      expect(run?.status).toBe('failed');
      expect(run?.errors[0]?.message).toContain('control store');
    } finally {
      fs.rmSync(link, { force: true });
    }
    // Neither run reached its engine.
    expect(h.engine.calls).toHaveLength(0);
  });
});
