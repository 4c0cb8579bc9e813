import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSink, type Sink } from '../../src/sinks/index.js';
import {
  type Inbox,
  inboxFor,
  MAX_BODY_BYTES,
  type RunningReceiver,
  receiveDelivery,
  signBody,
  startReceiver,
  WebhookApplier,
} from '../../src/webhooks/index.js';

const SECRET = 'whsec-fuzz-secret';
const EVER = '1970-01-01T00:00:00.000Z';

function payload(i: number): string {
  return JSON.stringify({
    webhookActionId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    action: 'applicationUpdate',
    data: { application: { id: `app-${i}`, status: 'Active', updatedAt: '2026-01-01T00:00:00.000Z' } },
  });
}

/** A seeded generator, so a failing mutation can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Forged {
  kind: string;
  body: string | Buffer;
  signature: string | undefined;
}

/** Forged or mutated deliveries: none carries a valid signature of its own bytes under the secret. */
function forgeries(count: number): Forged[] {
  const rnd = prng(42);
  const out: Forged[] = [];
  const kinds = [
    'other secret',
    'flipped signature bit',
    'flipped body bit',
    'truncated header',
    'other algorithm',
    're-serialised body',
    'missing header',
    'signature of another body',
    'empty header',
    'appended byte',
  ];
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length] as string;
    const body = payload(i);
    const good = signBody(body, SECRET);
    switch (kind) {
      case 'other secret':
        out.push({ kind, body, signature: signBody(body, `${SECRET}x${i}`) });
        break;
      case 'flipped signature bit': {
        const hex = good.slice('sha256='.length);
        const pos = Math.floor(rnd() * hex.length);
        const flipped = (Number.parseInt(hex[pos] as string, 16) ^ (1 << Math.floor(rnd() * 4))).toString(16);
        out.push({ kind, body, signature: `sha256=${hex.slice(0, pos)}${flipped}${hex.slice(pos + 1)}` });
        break;
      }
      case 'flipped body bit': {
        const bytes = Buffer.from(body);
        const pos = Math.floor(rnd() * bytes.length);
        bytes[pos] = (bytes[pos] as number) ^ (1 << Math.floor(rnd() * 7));
        out.push({ kind, body: bytes, signature: good });
        break;
      }
      case 'truncated header':
        out.push({ kind, body, signature: good.slice(0, Math.floor(rnd() * (good.length - 1))) });
        break;
      case 'other algorithm': {
        const alg = ['sha1', 'sha512', 'md5', 'sha384'][i % 4] as string;
        out.push({ kind, body, signature: `${alg}=${createHmac(alg, SECRET).update(body).digest('hex')}` });
        break;
      }
      case 're-serialised body':
        out.push({ kind, body: JSON.stringify(JSON.parse(body), null, 1 + (i % 3)), signature: good });
        break;
      case 'missing header':
        out.push({ kind, body, signature: undefined });
        break;
      case 'signature of another body':
        out.push({ kind, body, signature: signBody(payload(i + 1), SECRET) });
        break;
      case 'empty header':
        out.push({ kind, body, signature: '' });
        break;
      default:
        out.push({ kind, body: `${body} `, signature: good });
    }
  }
  return out;
}

describe('the webhook receiver', () => {
  let dir: string;
  let target: string;
  let inbox: Inbox;
  let sink: Sink;
  let receiver: RunningReceiver;
  let applier: WebhookApplier;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-wh-'));
    target = `sqlite:${path.join(dir, 'hooks.db')}`;
    sink = openSink(target);
    await sink.open();
    inbox = inboxFor(target);
    await inbox.open();
    applier = new WebhookApplier({
      inbox,
      sink,
      client: {
        call: async () => {
          throw new Error('no re-read expected');
        },
      },
    });
    receiver = await startReceiver({ inbox, secret: SECRET, port: 0, onStored: () => applier.kick() });
  });
  afterAll(async () => {
    await receiver?.close();
    await applier?.stop();
    await inbox?.close();
    await sink?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = async (
    body: string | Buffer,
    signature: string | undefined,
    contentType = 'application/json',
  ) => {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (signature !== undefined) headers['ashby-signature'] = signature;
    const res = await fetch(receiver.url, { method: 'POST', headers, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('refuses 1,200 forged or mutated deliveries with 401 and stores nothing', async () => {
    const forged = forgeries(1200);
    const statuses = new Map<string, number[]>();
    for (let i = 0; i < forged.length; i += 25) {
      const batch = forged.slice(i, i + 25);
      const answers = await Promise.all(batch.map((f) => post(f.body, f.signature)));
      answers.forEach((a, j) => {
        const kind = (batch[j] as Forged).kind;
        statuses.set(kind, [...(statuses.get(kind) ?? []), a.status]);
      });
    }
    for (const [kind, list] of statuses) expect(new Set(list), kind).toEqual(new Set([401]));
    expect(await inbox.list()).toEqual([]);
    expect(await inbox.list('ping')).toEqual([]);
    await applier.drain();
    expect(await sink.readRows('applications')).toEqual([]);
    // The same request, signed properly, is accepted: the refusals above are the signature's doing.
    expect((await post(payload(0), signBody(payload(0), SECRET))).status).toBe(200);
    await applier.drain();
    expect((await sink.readRows('applications')).map((r) => JSON.parse(String(r._ashpipe_raw)).id)).toEqual([
      'app-0',
    ]);
  });

  it('answers 413 above 5 MB, 415 to other media types, 400 to signed non-JSON, 405 to GET', async () => {
    const big = `{"action":"applicationUpdate","pad":"${'x'.repeat(MAX_BODY_BYTES)}"}`;
    expect((await post(big, signBody(big, SECRET))).status).toBe(413);
    const body = payload(5000);
    expect((await post(body, signBody(body, SECRET), 'text/plain')).status).toBe(415);
    expect((await post('not json', signBody('not json', SECRET))).status).toBe(400);
    expect((await fetch(receiver.url)).status).toBe(405);
    const noAction = JSON.stringify({ data: {} });
    expect((await post(noAction, signBody(noAction, SECRET))).status).toBe(400);
  });

  it('records a ping, stores unknown actions without applying them', async () => {
    const ping = JSON.stringify({ webhookActionType: 'ping' });
    expect(await post(ping, signBody(ping, SECRET))).toEqual({ status: 200, body: { ok: true } });
    expect((await inbox.stats(EVER)).lastPingAt).not.toBeNull();
    const unknown = JSON.stringify({
      webhookActionId: 'u-1',
      action: 'somethingNew',
      data: { thing: { id: 'x' } },
    });
    expect(await post(unknown, signBody(unknown, SECRET))).toEqual({
      status: 200,
      body: { ok: true, ignored: true },
    });
    expect((await inbox.list('ignored')).map((e) => e.action)).toEqual(['somethingNew']);
  });

  it('answers 503 when the event cannot be stored, so Ashby retries', async () => {
    const broken: Inbox = {
      ...inbox,
      add: async () => {
        throw new Error('disk full');
      },
    };
    const body = payload(7000);
    const answer = await receiveDelivery(
      { raw: Buffer.from(body), contentType: 'application/json', signature: signBody(body, SECRET) },
      { inbox: broken, secret: SECRET },
    );
    expect(answer.status).toBe(503);
  });
});
