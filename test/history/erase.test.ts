/**
 * `eraseFromTarget` (what `ashpipe erase` runs) removes a person's history versions too: found by an email
 * address only an old version still holds, every version of their candidate and of their applications
 * goes; a byte scan of the database (SQLite file and WAL, a pg_dump) no longer finds their name or either
 * address; everyone else's versions are as they were.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseFromTarget } from '../../src/privacy/erase.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { readHistory, type Version } from './support.js';

type Rec = Record<string, unknown>;
const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const streams = selectStreams({ streams: ['candidates', 'applications'] });
const NAME = 'Zebulon Historycanary';
const OLD_EMAIL = 'zebulon.old@history-canary.example';
const NEW_EMAIL = 'zebulon.new@history-canary.example';

function targetBytes(t: TestTarget): Buffer {
  if (t.dialect === 'postgres') {
    const url = new URL(t.target);
    const schema = url.searchParams.get('schema') ?? 'public';
    url.search = '';
    return execFileSync('pg_dump', ['--no-owner', '--schema', schema, url.toString()], {
      maxBuffer: 256 * 1024 * 1024,
    });
  }
  const dir = path.dirname(t.target.slice('sqlite:'.length));
  return Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
}

async function api(sandbox: Sandbox, endpoint: string, body: Rec): Promise<void> {
  const res = await fetch(`${sandbox.url}/${endpoint}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('sandbox-full:').toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  expect(((await res.json()) as { success: boolean }).success).toBe(true);
}

/** Versions as comparable values, the erased person's left out. */
function others(h: Map<string, Version[]>, leaveOut: Set<string>): Array<[string, Version[]]> {
  return [...h].filter(([id]) => !leaveOut.has(id)).sort(([a], [b]) => a.localeCompare(b));
}

describe.each(DIALECTS)('erasing a person removes their history versions (%s)', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 30, seed: 41 });
    t = await makeTarget(dialect);
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  it('by an address only an old version holds', async () => {
    const sync = async () =>
      expect(
        (
          await syncToTarget({
            apiKey: 'sandbox-full',
            baseUrl: sandbox.url,
            target: t.target,
            streams,
            history: ['candidates', 'applications'],
          })
        ).exitCode,
      ).toBe(0);
    const apps = expectedStreamRecords(sandbox, 'applications');
    const person = String(((apps[0] as Rec).candidate as Rec).id);
    const theirApps = new Set(
      apps.filter((a) => (a.candidate as Rec).id === person).map((a) => String(a.id)),
    );
    await api(sandbox, 'candidate.update', { candidateId: person, name: NAME, email: OLD_EMAIL });
    await sync();
    await api(sandbox, 'candidate.update', { candidateId: person, email: NEW_EMAIL });
    await sync();
    // A full pass picks up the new address inside their applications too.
    await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams,
      history: ['candidates', 'applications'],
      fullRefresh: true,
    });

    const candBefore = await readHistory(t.target, 'candidates');
    const appBefore = await readHistory(t.target, 'applications');
    expect(candBefore.get(person)?.length).toBeGreaterThanOrEqual(2);
    expect(targetBytes(t).includes(OLD_EMAIL)).toBe(true);

    const dry = await eraseFromTarget(t.target, { candidateIds: [], emails: [OLD_EMAIL] }, { dryRun: true });
    const report = await eraseFromTarget(t.target, { candidateIds: [], emails: [OLD_EMAIL] });
    // The dry run names the same versions the erasure removes.
    expect(dry.tables.candidates_history).toBe(report.tables.candidates_history);
    expect(dry.tables.applications_history).toBe(report.tables.applications_history);
    expect(report.candidateIds).toEqual([person]);
    expect(report.tables.candidates_history).toBe(candBefore.get(person)?.length);
    expect(report.tables.applications_history).toBe(
      [...theirApps].reduce((n, id) => n + (appBefore.get(id)?.length ?? 0), 0),
    );

    const candAfter = await readHistory(t.target, 'candidates');
    const appAfter = await readHistory(t.target, 'applications');
    expect(candAfter.has(person)).toBe(false);
    for (const id of theirApps) expect(appAfter.has(id)).toBe(false);
    expect(others(candAfter, new Set([person]))).toEqual(others(candBefore, new Set([person])));
    expect(others(appAfter, theirApps)).toEqual(others(appBefore, theirApps));
    const bytes = targetBytes(t);
    for (const needle of [NAME, OLD_EMAIL, NEW_EMAIL]) expect(bytes.includes(needle), needle).toBe(false);
  }, 120_000);
});
