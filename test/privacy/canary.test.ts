/**
 * A canary person synced with the default PII policy: their email address and phone number must be found
 * nowhere in the target, read as bytes (SQLite's database and WAL files, a pg_dump of the PostgreSQL
 * schema, every file of a JSONL directory, the webhook inbox), while the hashes of their address still
 * join candidates and applications. A control run without a policy finds the same canary in the same
 * places, so the scan is known to look where the data would be.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePiiPolicy } from '../../src/privacy/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { inboxFor, receiveDelivery, WebhookApplier } from '../../src/webhooks/index.js';
import { runCli } from '../support/cli.js';
import { DIALECTS, makeTarget, POSTGRES_URL, type TestTarget, withSink } from '../sync/helpers.js';

const EVERY_STREAM = selectStreams({ streams: ['all'] });
const fast = { limit: 6, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false };
const MASTER = randomBytes(32);
// The key as docs/privacy.md states it: HKDF-SHA256 of the master key, salt "ashpipe", info "ashpipe pii hash v1".
const HASH_KEY = Buffer.from(hkdfSync('sha256', MASTER, 'ashpipe', 'ashpipe pii hash v1', 32));
/** The default policy, its key found as the CLI finds it: the master key in ASHPIPE_MASTER_KEY. */
async function policy() {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-home-'));
  try {
    const pii = await resolvePiiPolicy('default', {
      home,
      env: { ASHPIPE_MASTER_KEY: MASTER.toString('base64') },
    });
    if (!pii) throw new Error('the default policy changes records');
    return pii;
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}
const hmac = (text: string) => createHmac('sha256', HASH_KEY).update(text).digest('hex');

interface Person {
  email: string;
  phone: string;
}

function newPerson(): Person {
  const tag = randomBytes(5).toString('hex');
  const digits = String(Number.parseInt(tag, 16) % 1_000_000).padStart(6, '0');
  return {
    email: `canary.${tag}@privacy.example.net`,
    phone: `+44 7700 9${digits.slice(0, 2)} ${digits.slice(2)}`,
  };
}

/** What of `person` is found in `bytes`: the address, the number as written, its digits alone. */
function found(bytes: Buffer, person: Person): string[] {
  const needles = [
    person.email,
    person.email.toUpperCase(),
    person.phone,
    person.phone.replace(/[^0-9+]/g, ''),
  ];
  return needles.filter((n) => bytes.includes(Buffer.from(n)));
}

function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(root, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** Every byte the target holds: files for SQLite and JSONL, a dump of the schema for PostgreSQL. */
function targetBytes(t: TestTarget): Buffer {
  if (t.dialect === 'postgres') {
    const url = new URL(t.target);
    const schema = url.searchParams.get('schema') ?? 'public';
    url.search = '';
    return execFileSync('pg_dump', ['--no-owner', '--schema', schema, url.toString()], {
      maxBuffer: 512 * 1024 * 1024,
    });
  }
  const dir =
    t.dialect === 'sqlite' ? path.dirname(t.target.slice('sqlite:'.length)) : t.target.slice('jsonl:'.length);
  return Buffer.concat(filesUnder(dir).map((f) => fs.readFileSync(f)));
}

/** Rows of SQL on the target (SQLite or PostgreSQL). */
async function query(t: TestTarget, sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
  if (t.dialect === 'sqlite') {
    const db = openSqlite(t.target.slice('sqlite:'.length));
    try {
      return db.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  }
  const url = new URL(t.target);
  const schema = url.searchParams.get('schema') ?? 'public';
  url.search = '';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Candidate `id`'s applications whose stored candidate address equals the candidate's stored one. */
async function joinedApplications(t: TestTarget, candidateId: string): Promise<number> {
  if (t.dialect === 'jsonl') {
    return withSink(t.target, async (sink) => {
      const [c] = (await sink.readRows('candidates')).filter((r) => r.id === candidateId);
      if (!c) return 0;
      const email = (JSON.parse(String(c?._ashpipe_raw)) as { primaryEmailAddress?: { value?: string } })
        .primaryEmailAddress?.value;
      return (await sink.readRows('applications')).filter((r) => {
        const app = JSON.parse(String(r._ashpipe_raw)) as {
          candidate?: { primaryEmailAddress?: { value?: string } };
        };
        return email !== undefined && app.candidate?.primaryEmailAddress?.value === email;
      }).length;
    });
  }
  const sql =
    t.dialect === 'sqlite'
      ? `SELECT count(*) AS n FROM candidates c JOIN applications a
           ON json_extract(a._ashpipe_raw, '$.candidate.primaryEmailAddress.value') = json_extract(c._ashpipe_raw, '$.primaryEmailAddress.value')
         WHERE c.id = $1`
      : `SELECT count(*) AS n FROM candidates c JOIN applications a
           ON a._ashpipe_raw::jsonb #>> '{candidate,primaryEmailAddress,value}' = c._ashpipe_raw::jsonb #>> '{primaryEmailAddress,value}'
         WHERE c.id = $1`;
  const [row] = await query(t, sql, [candidateId]);
  return Number(row?.n);
}

describe.each(DIALECTS)('the default PII policy in %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  let control: TestTarget;
  const canary = newPerson();
  const webhookCanary = newPerson();
  let candidateId: string;
  let applicationIds: string[];

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40, seed: 11 });
    // Candidate 3 becomes the canary (the test checks it has applications).
    const candidate = sandbox.world.at('candidate', 3);
    if (!candidate) throw new Error('no candidate 3');
    candidateId = String(candidate.id);
    applicationIds = (candidate.applicationIds as string[]).slice();
    expect(applicationIds.length).toBeGreaterThan(0);
    const email = { value: canary.email, type: 'Personal', isPrimary: true };
    const phone = { value: canary.phone, type: 'Personal', isPrimary: true };
    sandbox.mutate.updateCandidate(candidateId, {
      primaryEmailAddress: email,
      emailAddresses: [email],
      primaryPhoneNumber: phone,
      phoneNumbers: [phone],
    });
    t = await makeTarget(dialect);
    control = await makeTarget(dialect);
  }, 60_000);
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
    await control?.cleanup();
  });

  const sync = async (target: string, withPolicy: boolean) =>
    syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target,
      streams: EVERY_STREAM,
      retry: fast,
      ...(withPolicy ? { piiPolicy: await policy() } : {}),
    });

  it('without a policy the canary is in the target: the scan looks where the data is', async () => {
    expect((await sync(control.target, false)).exitCode).toBe(0);
    expect(found(targetBytes(control), canary).sort()).toEqual([canary.email, canary.phone].sort());
    if (dialect !== 'jsonl') {
      // Both tables hold it: the candidate and the applications' candidate summary.
      const raw = dialect === 'postgres' ? '_ashpipe_raw::text' : '_ashpipe_raw';
      const apps = await query(control, `SELECT ${raw} AS raw FROM applications`, []);
      expect(apps.some((r) => String(r.raw).includes(canary.email))).toBe(true);
    }
  }, 120_000);

  it('with the default policy its email and phone are nowhere, and hashed emails still join', async () => {
    const summary = await sync(t.target, true);
    expect(summary.streams.filter((s) => s.status !== 'ok').map((s) => s.stream)).toEqual([]);
    expect(found(targetBytes(t), canary)).toEqual([]);
    expect(await joinedApplications(t, candidateId)).toBe(applicationIds.length);
    const [row] = await withSink(t.target, async (sink) =>
      (await sink.readRows('candidates')).filter((r) => r.id === candidateId),
    );
    const stored = JSON.parse(String(row?._ashpipe_raw)) as Record<string, { value: string }>;
    expect(stored.primaryEmailAddress?.value).toBe(hmac(canary.email));
    expect(stored.primaryPhoneNumber?.value).toBe(hmac(canary.phone.replace(/[^0-9+]/g, '')));
  }, 120_000);

  it('a webhook event is stored in the inbox and applied already transformed', async () => {
    const pii = await policy();
    const [app] = (sandbox.records('application.list') as Array<Record<string, unknown>>).filter(
      (a) => a.id === applicationIds[0],
    );
    if (!app) throw new Error('no application');
    const candidate = app.candidate as Record<string, unknown>;
    const payload = {
      webhookActionId: randomBytes(8).toString('hex'),
      action: 'applicationUpdate',
      data: {
        application: {
          ...app,
          updatedAt: new Date(Date.now() + 60_000).toISOString(),
          candidate: {
            ...candidate,
            primaryEmailAddress: { value: webhookCanary.email, type: 'Personal', isPrimary: true },
            primaryPhoneNumber: { value: webhookCanary.phone, type: 'Personal', isPrimary: true },
          },
        },
      },
    };
    // Without a policy the inbox keeps the event as sent: the scan below would see it.
    const plain = inboxFor(control.target);
    await plain.open();
    await receiveDelivery(
      { raw: Buffer.from(JSON.stringify(payload)), contentType: 'application/json', signature: undefined },
      { inbox: plain, secret: undefined },
    );
    await plain.close();
    expect(found(targetBytes(control), webhookCanary)).toContain(webhookCanary.email);
    const inbox = inboxFor(t.target);
    await inbox.open();
    await withSink(t.target, async (sink) => {
      const answer = await receiveDelivery(
        { raw: Buffer.from(JSON.stringify(payload)), contentType: 'application/json', signature: undefined },
        { inbox, secret: undefined, pii },
      );
      expect(answer.status).toBe(200);
      const client = {
        call: () => Promise.reject(new Error('no call expected')),
      };
      const applier = new WebhookApplier({ inbox, sink, client, pii });
      expect(await applier.drain()).toBe(1);
    });
    const [event] = await inbox.list('applied');
    await inbox.close();
    expect(event?.body.includes(webhookCanary.email)).toBe(false);
    expect(found(targetBytes(t), webhookCanary)).toEqual([]);
    expect(found(targetBytes(t), canary)).toEqual([]);
    const apps = await withSink(t.target, (sink) => sink.readRows('applications'));
    const stored = apps.find((r) => r.id === applicationIds[0]);
    const raw = JSON.parse(String(stored?._ashpipe_raw)) as {
      candidate: { primaryEmailAddress: { value: string } };
    };
    expect(raw.candidate.primaryEmailAddress.value).toBe(hmac(webhookCanary.email));
  }, 120_000);

  it('ashpipe erase --email finds the person by the hash of their address, and erases them', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-home-'));
    try {
      const r = await runCli(['erase', '--email', canary.email.toUpperCase(), '--to', t.target, '--json'], {
        ASHPIPE_HOME: home,
        ASHPIPE_MASTER_KEY: MASTER.toString('base64'),
      });
      expect(r.err).toBe('');
      const [report] = (
        JSON.parse(r.out) as { reports: Array<{ candidateIds: string[]; applicationIds: string[] }> }
      ).reports;
      expect(report?.candidateIds).toEqual([candidateId]);
      expect(report?.applicationIds).toEqual([...applicationIds].sort());
      expect(await joinedApplications(t, candidateId)).toBe(0);
      // The address hashed is gone too.
      expect(targetBytes(t).includes(Buffer.from(hmac(canary.email)))).toBe(false);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  }, 120_000);
});

it('PostgreSQL is part of the proof when it is configured', () => {
  if (process.env.ASHPIPE_REQUIRE_POSTGRES === '1') expect(POSTGRES_URL).toBeTruthy();
});
