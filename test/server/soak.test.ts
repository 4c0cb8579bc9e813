/**
 * The server stays up under attack and always stops: 100 concurrent oversized and slow requests while
 * /health keeps answering (its latency is measured by `npm run bench:soak`, not asserted here), and
 * SIGTERM ends the process within --stop-timeout even when a run is stuck where no abort reaches it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MIX, probeHealth, type ServeProcess, startAttack, startServe } from '../../bench/attack.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';

const PASSWORD = 'soak test admin password';
const homes: string[] = [];
const home = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-soak-'));
  homes.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of homes) fs.rmSync(d, { recursive: true, force: true });
});

describe('under 100 concurrent oversized and slow requests', () => {
  let server: ServeProcess;
  beforeAll(async () => {
    server = await startServe({ ASHPIPE_HOME: home(), ASHPIPE_ADMIN_PASSWORD: PASSWORD });
  });
  afterAll(async () => server?.stop());

  it('/health answers every probe, oversized bodies get 413, and memory stays bounded', async () => {
    const attack = startAttack(server.port, DEFAULT_MIX);
    const statuses: number[] = [];
    let peak = 0;
    try {
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 20; i++) {
        statuses.push((await probeHealth(server.port, 10_000)).status);
        peak = Math.max(peak, server.rssMb() ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      attack.stop();
    }
    expect(statuses).toEqual(Array(20).fill(200));
    expect(attack.stats.statuses['413'] ?? 0).toBeGreaterThan(DEFAULT_MIX.oversized);
    expect(Object.keys(attack.stats.statuses).filter((s) => s !== '413' && s !== '408')).toEqual([]);
    // 400 MB bodies are never read: the server stays far below one of them.
    expect(peak).toBeLessThan(400);
  }, 60_000);
});

describe('stopping', () => {
  let sandbox: Sandbox;
  let blackHole: net.Server;
  const held: net.Socket[] = [];
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 5 });
    // A "database" that accepts connections and never says a word: no abort signal reaches a client
    // waiting for it.
    blackHole = net.createServer((socket) => {
      held.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => blackHole.close(() => r()));
    await sandbox.close();
  });
  let server: ServeProcess | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('SIGTERM ends the process within --stop-timeout although a run is stuck on a silent database', async () => {
    server = await startServe(
      { ASHPIPE_HOME: home(), ASHPIPE_ADMIN_PASSWORD: PASSWORD, ASHBY_BASE_URL: sandbox.url },
      ['--stop-timeout', '1'],
    );
    const base = `http://127.0.0.1:${server.port}/api/v1`;
    const login = await fetch(`${base}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const headers = {
      cookie,
      'x-csrf-token': ((await login.json()) as { csrfToken: string }).csrfToken,
      'content-type': 'application/json',
    };
    const cred = await fetch(`${base}/credentials`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'sandbox', apiKey: 'sandbox-full' }),
    });
    expect(cred.status).toBe(201);
    const credentialId = ((await cred.json()) as { credential: { id: string } }).credential.id;
    const port = (blackHole.address() as net.AddressInfo).port;
    const flow = await fetch(`${base}/flows`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        kind: 'source',
        name: 'Stuck',
        credentialId,
        streams: ['jobs'],
        target: { type: 'postgres', url: `postgres://ashpipe@127.0.0.1:${port}/warehouse` },
      }),
    });
    const flowId = ((await flow.json()) as { flow: { id: string } }).flow.id;
    const run = await fetch(`${base}/flows/${flowId}/run`, { method: 'POST', headers });
    expect(run.status).toBe(202);
    // The run is waiting on the silent database.
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(held.length).toBeGreaterThan(0);
    const stopping = server;
    server = undefined;
    const code = await stopping.stop();
    expect(code).toBe(1);
  }, 60_000);

  it('a server on 127.0.0.2 says nothing about exposing the console and stops at once when idle', async () => {
    const dir = home();
    const stderr: string[] = [];
    server = await startServe({ ASHPIPE_HOME: dir }, ['--host', '127.0.0.2'], (line) => stderr.push(line));
    expect((await probeHealth(server.port, 10_000, '127.0.0.2')).status).toBe(200);
    const stopping = server;
    server = undefined;
    expect(await stopping.stop()).toBe(0);
    expect(stderr.join('')).not.toContain('exposes the console');
  }, 60_000);
});
