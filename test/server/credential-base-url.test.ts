/**
 * A credential's base URL is where the server sends the API key and whose answers it reads: only https,
 * or plain http to this machine when the server allows it; an answer that is not Ashby's is never echoed;
 * a key no probe could check is not saved unless the person asks.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { verifyWithin } from '../../src/server/credentials.js';
import { verifyKey } from '../../src/vault/verify.js';
import { type Harness, harness, signedInHeaders } from './helpers.js';

/** What an internal service (a metadata endpoint, an admin page) answers: it must never reach the API. */
const INTERNAL = `INTERNAL-${'metadata-token-do-not-leak-'.repeat(8)}`;

let internal: http.Server;
let internalUrl: string;
beforeAll(async () => {
  internal = http.createServer((req, res) => {
    req.resume();
    const html = req.url?.includes('apiKey.info');
    res.writeHead(html ? 200 : 500, { 'content-type': html ? 'text/html' : 'text/plain' });
    res.end(`<pre>${INTERNAL}</pre>`);
  });
  await new Promise<void>((r) => internal.listen(0, '127.0.0.1', r));
  internalUrl = `http://127.0.0.1:${(internal.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => internal.close(() => r())));

/** The real verification probe, with quick retries. */
const realVerify = (apiKey: string, baseUrl: string) =>
  verifyKey(new AshbyClient({ apiKey, baseUrl, retry: { limit: 1 } }));

describe('credential base URLs', () => {
  let h: Harness;
  afterEach(async () => {
    signedIn = undefined;
    await h?.close();
  });

  let signedIn: Record<string, string> | undefined;
  const create = async (body: Record<string, unknown>) => {
    signedIn ??= await signedInHeaders(h);
    const headers = signedIn;
    const res = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    return { res, text: await res.text(), headers };
  };

  it('an internal service as base URL: nothing of its answer comes back, and nothing is saved unless asked', async () => {
    h = await harness({ verify: realVerify, allowHttpBaseUrl: true });
    const { res, text, headers } = await create({
      name: 'internal',
      apiKey: 'internal-key-0001',
      baseUrl: internalUrl,
    });
    expect(res.status).toBe(422);
    expect(JSON.parse(text).error.code).toBe('probe_failed');
    expect(text).not.toContain('INTERNAL');
    expect(await h.deps.services.credentials.list()).toEqual([]);

    const forced = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'internal',
        apiKey: 'internal-key-0001',
        baseUrl: internalUrl,
        saveUnverified: true,
      }),
    });
    const forcedText = await forced.text();
    expect(forced.status).toBe(201);
    const credential = JSON.parse(forcedText).credential;
    expect(credential.status).toBe('error');
    // What the probes report says what came back, never what it said.
    const readErrors = credential.verification.permissions
      .map((p: { readError?: string }) => p.readError)
      .filter(Boolean);
    expect(readErrors.length).toBeGreaterThan(0);
    for (const e of readErrors)
      expect(e).toMatch(/not Ashby's JSON \(\d+ bytes of text\/plain; not shown\)|not shown/);
    const listed = await (await h.request('/api/v1/credentials', { headers })).text();
    for (const t of [forcedText, listed, h.logLines.join('\n')]) expect(t).not.toContain('INTERNAL');
  });

  it('a server that never answers: the verification gives up at its deadline, aborts its probes and says so', async () => {
    const held: http.ServerResponse[] = [];
    const silent = http.createServer((_req, res) => void held.push(res));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    let aborted = false;
    const started = Date.now();
    const verification = await verifyWithin(
      (apiKey, baseUrl, signal) => {
        signal?.addEventListener('abort', () => {
          aborted = true;
        });
        return verifyKey(new AshbyClient({ apiKey, baseUrl }), signal ? { signal } : {});
      },
      'silent-key-0001',
      url,
      1_000,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(verification.status).toBe('error');
    expect(verification.message).toBe('no answer within 1 s');
    expect(aborted).toBe(true);
    expect(held.length).toBeGreaterThan(0);
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('nothing listening at the base URL: refused within seconds, naming the server; nothing saved', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    h = await harness({ verify: realVerify, allowHttpBaseUrl: true });
    const started = Date.now();
    const { res, text } = await create({ name: 'nowhere', apiKey: 'nowhere-key-0001', baseUrl: url });
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(res.status).toBe(422);
    const { error } = JSON.parse(text);
    expect(error.code).toBe('probe_failed');
    expect(error.message).toMatch(new RegExp(`^Could not check the key at ${url}: .+\\. Nothing was saved;`));
    expect(await h.deps.services.credentials.list()).toEqual([]);
  });

  it('a wrong key is refused in one sentence naming the server', async () => {
    h = await harness({ baseUrl: 'https://ashby.example.com' });
    const { res, text } = await create({ name: 'bad', apiKey: 'bad-key-0001' });
    expect(res.status).toBe(422);
    expect(JSON.parse(text).error).toMatchObject({
      code: 'key_rejected',
      message:
        'The server at https://ashby.example.com rejected this API key (wrong, deactivated or missing); nothing was saved.',
    });
    const listed = await (await h.request('/api/v1/credentials', { headers: signedIn ?? {} })).json();
    expect(listed).toMatchObject({ credentials: [], defaultBaseUrl: 'https://ashby.example.com' });
  });

  it('accepts https; refuses plain http unless allowed, and then only to this machine', async () => {
    h = await harness({ allowHttpBaseUrl: false });
    const refused = [
      ['http://127.0.0.1:4010', /must be an https URL/],
      ['http://169.254.169.254/latest', /must be an https URL/],
      ['ftp://ashby.example.com', /must be an https URL/],
      ['https://user:secret@api.ashbyhq.com', /must not hold a user name or password/],
      ['not a url', /is not a URL/],
    ] as const;
    for (const [baseUrl, message] of refused) {
      const { res, text } = await create({ name: `x${baseUrl.length}`, apiKey: 'any-key-00001', baseUrl });
      expect(res.status, baseUrl).toBe(422);
      expect(JSON.parse(text).error.message).toMatch(message);
      expect(JSON.parse(text).error.details).toEqual([{ path: 'baseUrl', message: expect.any(String) }]);
    }
    expect(
      (await create({ name: 'https', apiKey: 'any-key-00002', baseUrl: 'https://api.ashbyhq.com' })).res
        .status,
    ).toBe(201);
  });

  it('with --allow-http-base-url, plain http reaches this machine only', async () => {
    h = await harness({ allowHttpBaseUrl: true });
    expect(
      (await create({ name: 'local', apiKey: 'any-key-00003', baseUrl: 'http://127.0.0.2:4010' })).res.status,
    ).toBe(201);
    for (const baseUrl of ['http://10.0.0.5:4010', 'http://169.254.169.254', 'http://ashby.internal']) {
      const { res, text } = await create({ name: 'remote', apiKey: 'any-key-00004', baseUrl });
      expect(res.status, baseUrl).toBe(422);
      expect(JSON.parse(text).error.message).toMatch(/plain http only to this machine/);
    }
  });

  it('a server started against a sandbox on this machine allows http to it by default', async () => {
    const { buildDeps } = await import('../../src/server/index.js');
    h = await harness();
    const deps = await buildDeps(h.typed, { env: { ASHBY_BASE_URL: 'http://127.0.0.1:4010' } });
    expect(deps.allowHttpBaseUrl).toBe(true);
    const https = await buildDeps(h.typed, { env: {} });
    expect(https.allowHttpBaseUrl).toBe(false);
    await deps.scheduler.stop({ abort: true });
    await https.scheduler.stop({ abort: true });
  });
});
