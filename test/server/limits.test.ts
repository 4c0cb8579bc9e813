/**
 * No request can freeze the server: bodies are limited per route and refused (413) before they are read,
 * uploads stream to disk under their own limit, and every file the server reads is read as a stream with
 * a record limit, so /health keeps answering meanwhile.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BODY_LIMITS, createApp } from '../../src/server/app.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { asJson, type Harness, harness, PASSWORD, signedInHeaders } from './helpers.js';

/**
 * Sends a request announcing `announced` bytes (or chunked when undefined) and writes `chunk` until the
 * server answers; resolves with the status and how many bytes were written by then.
 */
function flood(
  port: number,
  pathname: string,
  announced: number | undefined,
  chunk = Buffer.alloc(64 * 1024, 0x61),
  headers: Record<string, string> = {},
): Promise<{ status: number; sent: number; body: string }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(announced !== undefined ? { 'content-length': String(announced) } : {}),
          ...headers,
        },
      },
      (res) => {
        answered = true;
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, sent, body });
        });
      },
    );
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const pump = () => {
      while (!answered && (announced === undefined || sent + chunk.length <= announced)) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
        if (sent > 64 * 1024 * 1024) return; // never more than 64 MiB, answered or not
      }
    };
    pump();
  });
}

describe('request bodies', () => {
  let server: RunningServer;
  let home: string;
  beforeAll(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-limits-'));
    server = await startServer({ home, env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD }, port: 0 });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('a 400 MB body announced to the unauthenticated login is answered 413 before it is read', async () => {
    const before = process.memoryUsage().rss;
    const res = await flood(server.port, '/api/v1/session', 400 * 1024 * 1024);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({
      error: {
        code: 'payload_too_large',
        message: `The request body is larger than the ${BODY_LIMITS.session}-byte limit of this route.`,
      },
    });
    // Answered long before the body was sent: at most what the socket took before the answer came back.
    expect(res.sent).toBeLessThan(64 * 1024 * 1024);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('a chunked body without a length is cut as soon as it passes the limit', async () => {
    const res = await flood(server.port, '/api/v1/session', undefined);
    expect(res.status).toBe(413);
    expect(res.sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('each route has its limit: a small JSON body passes, a flow may carry a pasted CSV, nothing more', async () => {
    const login = await fetch(`${server.url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = (await login.json().then(asJson)).csrfToken as string;
    const headers = { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' };
    const post = (route: string, bytes: number) =>
      fetch(`${server.url}${route}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'x', padding: 'p'.repeat(bytes) }),
      });
    expect((await post('/api/v1/credentials', BODY_LIMITS.other + 1)).status).toBe(413);
    expect((await post('/api/v1/credentials', 1000)).status).toBe(422);
    expect((await post('/api/v1/flows', BODY_LIMITS.flows + 1)).status).toBe(413);
    expect((await post('/api/v1/flows', BODY_LIMITS.other * 2)).status).toBe(422);
  });
});

describe('uploads', () => {
  let h: Harness;
  let headers: Record<string, string>;
  beforeEach(async () => {
    h = await harness();
    headers = await signedInHeaders(h);
    delete headers['content-type'];
  });
  afterEach(async () => h.close());

  const form = (name: string, content: string | Buffer, field = 'file') => {
    const body = new FormData();
    body.append(field, new Blob([content]), name);
    return body;
  };
  // The form is serialised before it is sent: a FormData body streamed in-process keeps writing after the
  // server has answered without reading it (401, 403), and the closed stream then rejects unhandled.
  const upload = async (body: FormData, extra: Record<string, string> = headers, app = h.app) => {
    const encoded = new Response(body);
    const contentType = encoded.headers.get('content-type') ?? '';
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    return app.request('/api/v1/uploads', {
      method: 'POST',
      headers: { ...extra, 'content-type': contentType },
      body: bytes,
    });
  };

  it('streams a CSV into the data directory (0600) and a destination flow dry-runs it by the path it answers', async () => {
    const csv = 'name,email\nAda Lovelace,ada@example.com\nBasic Knowledge Training,bkt@example.com\n';
    const res = await upload(form('../../people list.csv', csv));
    expect(res.status).toBe(201);
    const { upload: up } = await res.json().then(asJson);
    expect(up.path).toMatch(/^uploads\/[0-9a-f-]{36}-people_list\.csv$/);
    expect(up.bytes).toBe(Buffer.byteLength(csv));
    const file = path.join(h.data, up.path);
    expect(fs.readFileSync(file, 'utf8')).toBe(csv);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(h.data, 'uploads')).mode & 0o777).toBe(0o700);
    const cred = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'uploads', apiKey: 'uploads-key-0001' }),
    });
    const credentialId = (await cred.json().then(asJson)).credential.id;
    // The dry run stops at the first write: the bodies show the uploaded records exactly.
    const dry = await h.request('/api/v1/flows/test?limit=5', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'destination',
        name: 'Uploaded',
        credentialId,
        endpoint: 'candidate.create',
        input: { type: 'csv', path: up.path },
        mapping: {},
      }),
    });
    expect(dry.status).toBe(200);
    const report = await dry.json().then(asJson);
    expect(
      report.results.map((r: { wouldSend: { body: { name: string } } }) => r.wouldSend.body.name),
    ).toEqual(['Ada Lovelace', 'Basic Knowledge Training']);
  });

  it('a file over the limit is answered 413 and nothing is kept', async () => {
    const small = createApp(h.deps, { maxUploadBytes: 1024 });
    const res = await upload(form('big.csv', `name\n${'x'.repeat(4096)}\n`), headers, small);
    expect(res.status).toBe(413);
    expect((await res.json().then(asJson)).error.code).toBe('payload_too_large');
    const dir = path.join(h.data, 'uploads');
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  });

  it('refuses other file types, a form without a file part, no session and a missing CSRF token', async () => {
    expect((await upload(form('tool.sh', '#!/bin/sh\n'))).status).toBe(422);
    expect((await upload(form('people.csv', 'name\n', 'other'))).status).toBe(422);
    expect((await upload(form('people.csv', 'name\n'), {})).status).toBe(401);
    const { 'x-csrf-token': _csrf, ...noCsrf } = headers;
    expect((await upload(form('people.csv', 'name\n'), noCsrf)).status).toBe(403);
    const plain = await h.app.request('/api/v1/uploads', {
      method: 'POST',
      headers: { ...headers, 'content-type': 'text/csv' },
      body: 'name\n',
    });
    expect(plain.status).toBe(400);
  });
});

describe('files the server reads are streamed with limits', () => {
  let h: Harness;
  let headers: Record<string, string>;
  let credentialId: string;
  beforeEach(async () => {
    h = await harness();
    headers = await signedInHeaders(h);
    const cred = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'files', apiKey: 'files-key-0001' }),
    });
    credentialId = (await cred.json().then(asJson)).credential.id;
  });
  afterEach(async () => h.close());

  it('a JSON input holding one 20 MB element is refused at the record limit (422) while /health answers', async () => {
    const file = path.join(h.data, 'huge.json');
    const out = fs.openSync(file, 'w');
    fs.writeSync(out, '[{"name":"');
    const block = 'z'.repeat(1024 * 1024);
    for (let i = 0; i < 20; i++) fs.writeSync(out, block);
    fs.writeSync(out, '"}]');
    fs.closeSync(out);
    const test = h.request('/api/v1/flows/test?limit=5', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        kind: 'destination',
        name: 'Huge',
        credentialId,
        operation: 'candidate.create',
        input: { type: 'json', path: 'huge.json' },
        mapping: {},
      }),
    });
    // Which finishes first tells whether reading the file held the event loop: /health must not wait for it.
    const order: string[] = [];
    void test.then(() => order.push('test'));
    const health = await h.request('/api/v1/health');
    order.push('health');
    expect(health.status).toBe(200);
    const res = await test;
    expect(order).toEqual(['health', 'test']);
    expect(res.status).toBe(422);
    const error = (await res.json().then(asJson)).error;
    expect(error.code).toBe('invalid_input_file');
    expect(error.message).toMatch(/element 1 \(from byte offset 1\) is larger than the 4194304-byte limit/);
  });

  it('previews a large JSONL target page by page, and /health answers meanwhile', async () => {
    const dir = path.join(h.data, 'export');
    const lines = 100_000;
    // The sink's documented format written directly (the sink itself takes minutes for this many records).
    fs.mkdirSync(path.join(dir, '_ashpipe_state'), { recursive: true });
    const file = fs.openSync(path.join(dir, 'candidates.jsonl'), 'w');
    let batch = '';
    let bytes = 0;
    for (let i = 0; i < lines; i++) {
      const id = `c${String(i).padStart(6, '0')}`;
      batch += `${JSON.stringify({ op: 'upsert', stream: 'candidates', key: { id }, time: '2026-01-01T00:00:00.000Z', passId: 'p1', seq: 1, record: { id, name: `Name ${i}`, note: 'n'.repeat(200) } })}\n`;
      if (batch.length > 1 << 20) {
        bytes += fs.writeSync(file, batch);
        batch = '';
      }
    }
    bytes += fs.writeSync(file, batch);
    fs.closeSync(file);
    fs.writeFileSync(
      path.join(dir, '_ashpipe_state', 'candidates.json'),
      JSON.stringify({ offset: bytes, primaryKey: ['id'], clock: 1, state: { passId: 'p1' } }),
    );
    const created = await h.request('/api/v1/flows', {
      method: 'POST',
      headers,
      body: JSON.stringify({
        kind: 'source',
        name: 'JSONL',
        credentialId,
        streams: ['candidates'],
        target: { type: 'jsonl', path: 'export' },
      }),
    });
    const flowId = (await created.json().then(asJson)).flow.id as string;
    // Event-loop turns while the preview runs: a file read whole in one go would allow none.
    let turns = 0;
    let counting = true;
    const tick = () => {
      turns += 1;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const preview = h.request(`/api/v1/datasets/candidates/preview?flowId=${flowId}&limit=3&offset=90000`, {
      headers,
    });
    const health = await h.request('/api/v1/health');
    expect(health.status).toBe(200);
    const page = await (await preview).json().then(asJson);
    counting = false;
    expect(turns).toBeGreaterThan(20);
    expect(page.total).toBe(lines);
    expect(page.rows.map((r: { id: string }) => r.id)).toEqual(['c090000', 'c090001', 'c090002']);
  });
});
