/**
 * Server flows: `options.piiPolicy` as a policy document (checked with the path of a mistake, 422) and
 * `options.onDelete` (soft or purge; purge erases a candidate gone from the flow's full pass).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { asJson, type Harness, harness, signedInHeaders } from '../server/helpers.js';
import { canary, foundIn, plantCanary } from './helpers.js';

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

async function until<T>(read: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
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
      const r = await until(() => {
        const x = harnessed.deps.store.getRun(runId);
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
    sandbox.mutate.deleteCandidate(candidateId);
    await run();
    expect(names().has(candidateId)).toBe(false);
    expect(foundIn(bytes(), person)).toEqual([]);
  }, 120_000);
});
