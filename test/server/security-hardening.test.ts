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
