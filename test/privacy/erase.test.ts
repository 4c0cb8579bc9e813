/**
 * `ashpipe erase`: after it, a byte scan of every file of the target (SQLite database and WAL, a pg_dump,
 * the JSONL directory and its webhook inbox) finds none of the person's name, email or phone; every other
 * row is as it was; an erasure record without personal data says what went.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControl } from '../../src/control/open.js';
import { CONTROL_DB_FILE } from '../../src/control/store.js';
import { addQuarantine, ensurePending, getLedgerEntry, markDone } from '../../src/push/ledger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { inboxFor, receiveDelivery } from '../../src/webhooks/index.js';
import { sqliteOf } from '../push/helpers.js';
import { runCli } from '../support/cli.js';
import { DIALECTS, makeTarget, type TestTarget, withSink } from '../sync/helpers.js';
import { foundIn, plantCanary, type Rec, snapshot, targetBytes, theirRows } from './helpers.js';

const EVERY_STREAM = selectStreams({ streams: ['all'] });
const fast = { limit: 6, backoffBaseMs: 5, backoffLimitMs: 20, jitter: false };

describe.each(DIALECTS)('ashpipe erase in %s', (dialect) => {
  let sandbox: Sandbox;
  let t: TestTarget;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-erase-'));
  const tag = randomBytes(5).toString('hex');
  const person = {
    name: `Canary Erasable ${tag}`,
    email: `erase.${tag}@privacy.example.net`,
    phone: `+44 7700 ${String(Number.parseInt(tag, 16) % 1_000_000).padStart(6, '0')}`,
  };
  const oldReasonEmail = `third.${tag}@example.com`;
  let candidateId: string;
  let apps: Set<string>;

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 40, seed: 5 });
    ({ candidateId, apps } = plantCanary(sandbox, 4, person));
    t = await makeTarget(dialect);
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: EVERY_STREAM,
      retry: fast,
    });
    expect(summary.exitCode).toBe(0);
    // A webhook event naming them waits in the inbox.
    const inbox = inboxFor(t.target);
    await inbox.open();
    const [app] = (sandbox.records('application.list') as Rec[]).filter((a) => apps.has(String(a.id)));
    const body = JSON.stringify({
      webhookActionId: tag,
      action: 'jobPostingUpdate',
      data: { application: app },
    });
    const answer = await receiveDelivery(
      { raw: Buffer.from(body), contentType: 'application/json', signature: undefined },
      { inbox, secret: undefined },
    );
    expect(answer.status).toBe(200);
    await inbox.close();
    // A push that could not write them left their input row, and another person's, in the quarantine.
    const control = await openControl({ home });
    try {
      for (const [key, email] of [
        ['a', person.email],
        ['b', `someone.else.${tag}@example.org`],
      ] as const) {
        await addQuarantine(control, {
          runId: `run-${tag}`,
          operation: 'candidate.create',
          recordKey: key,
          errorCode: 'invalid_input',
          errorMessage: 'rejected',
          raw: { name: key === 'a' ? person.name : 'Someone Else', email },
        });
      }
      // A reason stored before reasons were masked quotes a third person's address as it was.
      sqliteOf(control)
        .prepare('UPDATE push_quarantine SET error_message = ? WHERE record_key = ?')
        .run(`Ashby refused: "${oldReasonEmail}" is taken`, 'b');
      // The exactly-once ledger knows both people by their address (the key of candidate.create).
      for (const [email, id] of [
        [person.email, candidateId],
        [`someone.else.${tag}@example.org`, `other-${tag}`],
      ] as const) {
        await ensurePending(control.db, 'candidate.create', email, `run-${tag}`);
        await markDone(control.db, 'candidate.create', email, id, 'created');
      }
    } finally {
      await control.close();
    }
  }, 120_000);
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const found = () => foundIn(targetBytes(t), person);

  it('--dry-run lists what would go and changes nothing', async () => {
    expect(found()).toEqual([person.name, person.email, person.phone]);
    const before = await snapshot(t.target);
    const r = await runCli(
      ['erase', '--email', person.email.toUpperCase(), '--to', t.target, '--dry-run', '--json'],
      {
        ASHPIPE_HOME: home,
      },
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [report] = (JSON.parse(r.out) as { reports: Array<Record<string, unknown>> }).reports;
    expect(report?.candidateIds).toEqual([candidateId]);
    expect(report?.applicationIds).toEqual([...apps].sort());
    expect(report?.tables).toMatchObject({ candidates: 1, applications: apps.size });
    expect(await snapshot(t.target)).toEqual(before);
  }, 60_000);

  it('removes every row of theirs, leaves every other row as it was, and the bytes are gone', async () => {
    const before = await snapshot(t.target);
    const valuesBefore = await withSink(t.target, (sink) => sink.readRows('custom_field_values'));
    const r = await runCli(['erase', '--email', person.email, '--to', t.target, '--reason', 'request 42'], {
      ASHPIPE_HOME: home,
    });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('erased 1 candidate(s)');
    const after = await snapshot(t.target);
    const theirs = theirRows(before, candidateId, apps);
    for (const [table, rows] of before) {
      const others = rows.filter((row) => !theirs.has(row));
      expect(after.get(table) ?? [], table).toEqual(others);
    }
    // Custom field values: theirs gone (the candidate's and their applications' had some), the rest kept.
    const theirIds = new Set<unknown>(
      [...theirs]
        .map((row) => (JSON.parse(String(row._ashpipe_raw)) as Rec).id)
        .filter((id) => typeof id === 'string'),
    );
    expect(valuesBefore.some((v) => theirIds.has(v.object_id))).toBe(true);
    const valuesAfter = await withSink(t.target, (sink) => sink.readRows('custom_field_values'));
    expect(valuesAfter).toEqual(valuesBefore.filter((v) => !theirIds.has(v.object_id)));
    expect(found()).toEqual([]);
    // Their quarantine entry is gone from the control store's files, the other person's stays.
    expect(r.out).toContain('push quarantine: 1 entry erased');
    const control = Buffer.concat(
      fs
        .readdirSync(home)
        .filter((f) => f.startsWith(CONTROL_DB_FILE))
        .map((f) => fs.readFileSync(path.join(home, f))),
    );
    expect(control.includes(Buffer.from(person.email))).toBe(false);
    expect(control.includes(Buffer.from(person.name))).toBe(false);
    expect(control.includes(Buffer.from(`someone.else.${tag}@example.org`))).toBe(true);
    // Their ledger entry went; the other person's is still there and still done (pushed exactly once).
    expect(r.out).toContain('push ledger: 1 entry erased');
    expect(control.includes(Buffer.from(candidateId))).toBe(false);
    expect(control.includes(Buffer.from(oldReasonEmail))).toBe(false);
    const opened = await openControl({ home });
    try {
      expect(await getLedgerEntry(opened.db, 'candidate.create', person.email)).toBeUndefined();
      expect(
        await getLedgerEntry(opened.db, 'candidate.create', `someone.else.${tag}@example.org`),
      ).toMatchObject({
        state: 'done',
        ashbyId: `other-${tag}`,
      });
      const reason = sqliteOf(opened)
        .prepare('SELECT error_message AS m FROM push_quarantine WHERE record_key = ?')
        .get('b') as { m: string };
      expect(reason.m).toBe('Ashby refused: "***@example.com" is taken');
    } finally {
      await opened.close();
    }
    // The erasure record names ids, never the address.
    const record = targetBytes(t);
    expect(record.includes(Buffer.from('request 42'))).toBe(true);
  }, 120_000);

  it('a later sync still works on the target', async () => {
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams: selectStreams({ streams: ['jobs'] }),
      retry: fast,
    });
    expect(summary.exitCode).toBe(0);
  }, 60_000);
});
