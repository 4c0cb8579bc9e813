/**
 * Server flows: `options.piiPolicy` as a policy document (checked with the path of a mistake, 422) and
 * `options.onDelete` (soft or purge; purge erases a candidate gone from the flow's full pass).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensurePending, getLedgerEntry, markDone } from '../../src/push/ledger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createApp } from '../../src/server/app.js';
import { WebhookHub } from '../../src/server/webhooks.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { Vault } from '../../src/vault/vault.js';
import { signBody } from '../../src/webhooks/index.js';
import { asJson, type Harness, harness, signedInHeaders } from '../server/helpers.js';
import type { Canary } from './helpers.js';
import { canary, filesUnder, foundIn, plantCanary } from './helpers.js';

/**
 * A push of the person (and of someone else) recorded in the exactly-once ledger, keyed by their address
 * as candidate.create keys it: a purge must take the person's entry out of the control store too.
 */
async function ledgerKnows(
  harnessed: Harness,
  person: Canary,
  candidateId: string,
  other: string,
): Promise<void> {
  for (const [email, id] of [
    [person.email, candidateId],
    [other, `id-of-${other}`],
  ] as const) {
    await ensurePending(harnessed.typed.db, 'candidate.create', email, 'run-ledger');
    await markDone(harnessed.typed.db, 'candidate.create', email, id, 'created');
  }
}

/** The person's ledger entry is gone, the other one's kept (they are still pushed exactly once). */
async function expectLedgerErased(harnessed: Harness, person: Canary, other: string): Promise<void> {
  expect(await getLedgerEntry(harnessed.typed.db, 'candidate.create', person.email)).toBeUndefined();
  expect((await getLedgerEntry(harnessed.typed.db, 'candidate.create', other))?.ashbyId).toBe(
    `id-of-${other}`,
  );
}

let sandbox: Sandbox;
let h: Harness | undefined;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: 20, seed: 11 });
});
afterAll(async () => {
  await sandbox.close();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function signedIn() {
  const harnessed = await harness({ baseUrl: sandbox.url, realSource: true });
  h = harnessed;
  const headers = await signedInHeaders(harnessed);
  const call = async (method: string, p: string, body?: unknown) =>
    harnessed.request(p, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const cred = await call('POST', '/api/v1/credentials', { name: 'privacy', apiKey: 'sandbox-full' });
  expect(cred.status).toBe(201);
  const credentialId: string = (await cred.json().then(asJson)).credential.id;
  return { harnessed, call, credentialId };
}

async function until<T>(read: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('source flow options', () => {
  it('piiPolicy: a bad document and a bad onDelete are refused with a 422 naming where', async () => {
    const { call, credentialId } = await signedIn();
    const flow = (options: unknown) =>
      call('POST', '/api/v1/flows', {
        kind: 'source',
        name: 'Policy',
        credentialId,
        streams: ['candidates'],
        target: { type: 'sqlite', path: 'p.db' },
        options,
      });
    const unknownAction = await flow({
      piiPolicy: { extends: 'default', streams: { candidates: { name: 'scramble' } } },
    });
    expect(unknownAction.status).toBe(422);
    const err = (await unknownAction.json().then(asJson)).error;
    expect(err.message).toBe(
      'options.piiPolicy: streams.candidates.name: unknown action "scramble" (expected one of keep, hash, mask, drop)',
    );
    expect(err.details).toEqual([
      {
        path: 'options.piiPolicy.streams.candidates.name',
        message: 'unknown action "scramble" (expected one of keep, hash, mask, drop)',
      },
    ]);
    const unknownStream = await flow({ piiPolicy: { streams: { candidatez: { name: 'mask' } } } });
    expect(unknownStream.status).toBe(422);
    expect((await unknownStream.json().then(asJson)).error.message).toMatch(
      /^options\.piiPolicy: streams\.candidatez: /,
    );
    const onDelete = await flow({ onDelete: 'sometimes' });
    expect(onDelete.status).toBe(422);
    expect((await onDelete.json().then(asJson)).error).toMatchObject({
      message: 'options.onDelete: expected soft or purge, got "sometimes"',
      details: [{ path: 'options.onDelete', message: 'expected soft or purge' }],
    });
  });

  it('a policy document and onDelete purge: names masked as it says, a deleted candidate erased', async () => {
    const { harnessed, call, credentialId } = await signedIn();
    const person = canary('f10e', 'Flow');
    const { candidateId } = plantCanary(sandbox, 3, person);
    const db = path.join(harnessed.home, 'data', 'purge.db');
    fs.mkdirSync(path.dirname(db), { recursive: true });
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'Masked, purged',
      credentialId,
      // Candidates only: an application repeats the candidate's name, which this document keeps.
      streams: ['candidates'],
      target: { type: 'sqlite', path: db },
      options: {
        piiPolicy: { extends: 'none', streams: { candidates: { name: 'mask' } } },
        onDelete: 'purge',
        fullRefresh: true,
      },
    });
    expect(created.status).toBe(201);
    const flowId: string = (await created.json().then(asJson)).flow.id;
    const run = async () => {
      const started = await call('POST', `/api/v1/flows/${flowId}/run`);
      expect(started.status).toBe(202);
      const runId: string = (await started.json().then(asJson)).run.id;
      const r = await until(async () => {
        const x = await harnessed.deps.store.getRun(runId);
        return x && x.status !== 'running' ? x : undefined;
      });
      expect(r.errors).toEqual([]);
      expect(r.status).toBe('succeeded');
    };
    await run();
    const names = () => {
      const d = openSqlite(db);
      try {
        return new Map(
          (
            d.prepare('SELECT id, _ashpipe_raw AS raw FROM candidates').all() as Array<{
              id: string;
              raw: string;
            }>
          ).map((r) => [r.id, (JSON.parse(r.raw) as { name: string }).name]),
        );
      } finally {
        d.close();
      }
    };
    // "Canary Flow f10e" → initials, by hand; the email is kept (the document extends none).
    expect(names().get(candidateId)).toBe('C. F. f.');
    const bytes = () =>
      Buffer.concat(
        fs.readdirSync(path.dirname(db)).map((f) => fs.readFileSync(path.join(path.dirname(db), f))),
      );
    expect(foundIn(bytes(), person)).toEqual([person.email, person.phone]);
    await ledgerKnows(harnessed, person, candidateId, 'other.f10e@example.org');
    sandbox.mutate.deleteCandidate(candidateId);
    await run();
    expect(names().has(candidateId)).toBe(false);
    expect(foundIn(bytes(), person)).toEqual([]);
    // The server's home as a whole: control store (flows, runs and their logs), data directory.
    const home = Buffer.concat(filesUnder(harnessed.home).map((f) => fs.readFileSync(f)));
    expect(foundIn(home, person)).toEqual([]);
    await expectLedgerErased(harnessed, person, 'other.f10e@example.org');
  }, 120_000);
});

describe('a flow with webhooks and onDelete purge', () => {
  it('erases the candidate of a signed candidateDelete delivered to the server', async () => {
    const secret = 'whsec-purge-0123456789abcdef';
    const harnessed = await harness({ baseUrl: sandbox.url, realSource: true });
    h = harnessed;
    const hub = new WebhookHub(harnessed.deps);
    const app = createApp(harnessed.deps, { webhookHub: hub });
    try {
      const headers = await signedInHeaders(harnessed);
      const post = async (p: string, body?: unknown) =>
        app.request(p, {
          method: 'POST',
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      const cred = asJson(
        await (await post('/api/v1/credentials', { name: 'hooks', apiKey: 'sandbox-full' })).json(),
      ).credential.id;
      await new Vault(harnessed.typed, {
        home: harnessed.home,
        env: { ASHPIPE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') },
      }).add({ name: 'hooks:webhook-secret', apiKey: secret });
      const file = path.join(harnessed.data, 'hooks.db');
      const created = await post('/api/v1/flows', {
        kind: 'source',
        name: 'Purging hooks',
        credentialId: cred,
        streams: ['candidates', 'applications'],
        target: { type: 'sqlite', path: file },
        options: { webhooks: true, onDelete: 'purge' },
      });
      expect(created.status).toBe(201);
      const flowId: string = asJson(await created.json()).flow.id;
      const person = canary('be11', 'Hooked');
      const { candidateId } = plantCanary(sandbox, 5, person);
      const record = (sandbox.records('candidate.list') as Array<Record<string, unknown>>).find(
        (c) => c.id === candidateId,
      );
      const started = await post(`/api/v1/flows/${flowId}/run`);
      const runId: string = asJson(await started.json()).run.id;
      await until(async () => {
        const x = await harnessed.deps.store.getRun(runId);
        return x && x.status !== 'running' ? x : undefined;
      });
      const bytes = () =>
        Buffer.concat(
          fs
            .readdirSync(path.dirname(file))
            .filter((f) => f.startsWith('hooks.db'))
            .map((f) => fs.readFileSync(path.join(path.dirname(file), f))),
        );
      expect(foundIn(bytes(), person)).toHaveLength(3);
      await ledgerKnows(harnessed, person, candidateId, 'other.be11@example.org');
      sandbox.mutate.deleteCandidate(candidateId);
      const body = JSON.stringify({
        webhookActionId: 'purge-srv-1',
        action: 'candidateDelete',
        data: { candidate: record },
      });
      const answer = await app.request(`http://localhost/webhooks/ashby/${flowId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ashby-signature': signBody(body, secret) },
        body,
      });
      expect(answer.status).toBe(200);
      await until(() => (foundIn(bytes(), person).length === 0 ? true : undefined), 30_000);
      // Nor anywhere in the server's home: the control store (runs, inbox status), the logs, the target.
      const home = Buffer.concat(filesUnder(harnessed.home).map((f) => fs.readFileSync(f)));
      expect(foundIn(home, person)).toEqual([]);
      await expectLedgerErased(harnessed, person, 'other.be11@example.org');
      const d = openSqlite(file);
      try {
        expect(d.prepare('SELECT reason FROM _ashpipe_erasures').all()).toEqual([
          { reason: 'deleted in Ashby' },
        ]);
      } finally {
        d.close();
      }
    } finally {
      await hub.close();
    }
  }, 120_000);
});
