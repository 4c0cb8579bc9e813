import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.js';

/** A raw HTTP request with a chosen Host header (fetch does not let a caller set Host). */
function get(port: number, host: string, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathname, headers: { host } }, (res) => {
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

describe('a server on loopback answers only to loopback names', () => {
  let server: RunningServer;
  beforeAll(async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-host-'));
    server = await startServer({ home, env: {}, port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a request whose Host is another name (DNS rebinding) before any route runs', async () => {
    const res = await get(server.port, `rebind.example:${server.port}`, '/api/v1/session');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'host_not_allowed' } });
  });

  it('answers 127.0.0.1, localhost and [::1]', async () => {
    for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`]) {
      const res = await get(server.port, host, '/api/v1/session');
      expect(res.status, host).not.toBe(403);
    }
  });
});
