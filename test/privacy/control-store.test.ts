/**
 * Erasure from the control store on both dialects: the person's quarantine entries and exactly-once ledger
 * entries go, other people's stay (they are still pushed exactly once), and reasons stored unmasked are
 * masked again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { eraseFromControlStore } from '../../src/privacy/erase.js';
import { addQuarantine, ensurePending, markDone, markNotSent } from '../../src/push/ledger.js';
import { runCli } from '../support/cli.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

let control: Control | undefined;
afterEach(async () => {
  await control?.close();
  control = undefined;
  await removeControlTargets();
});

/** Every ledger row as `operation key state error`, in key order. */
async function ledgerRows(c: Control): Promise<string[]> {
  const rows = await c.db
    .selectFrom('push_ledger')
    .select(['operation', 'record_key', 'state', 'error'])
    .orderBy('record_key')
    .execute();
  return rows.map((r) => `${r.operation} ${r.record_key} ${r.state} ${r.error ?? ''}`.trim());
}

describe.each(controlDialects('erasure from a PostgreSQL control store'))(
  'erasure from the control store on %s',
  (dialect) => {
    it('removes the person’s quarantine and ledger entries, keeps the others, masks stored reasons', async () => {
      control = await openTarget(newControlTarget(dialect));
      const c = control;
      const quarantine = (email: string) =>
        addQuarantine(c, {
          runId: 'run-1',
          operation: 'candidate.create',
          recordKey: `key:${email}`,
          errorCode: 'invalid_record',
          errorMessage: 'name: required',
          raw: { email },
        });
      await quarantine('ada.erased@example.com');
      const bobEntry = await quarantine('bob@example.com');
      await ensurePending(c.db, 'candidate.create', 'ada.erased@example.com', 'run-1');
      await markDone(c.db, 'candidate.create', 'ada.erased@example.com', 'cand-ada', 'created');
      // A later operation on the same person, known only by the id Ashby gave them.
      await ensurePending(c.db, 'candidate.addTag', 'sha256:1', 'run-1');
      await markDone(c.db, 'candidate.addTag', 'sha256:1', 'cand-ada', 'updated');
      await ensurePending(c.db, 'candidate.create', 'bob@example.com', 'run-1');
      await markDone(c.db, 'candidate.create', 'bob@example.com', 'cand-bob', 'created');
      // A reason stored before reasons were masked.
      await ensurePending(c.db, 'candidate.create', 'key:7', 'run-1');
      await markNotSent(c.db, 'candidate.create', 'key:7', 'failed', 'email carol@example.org is taken');

      const needles = ['ada.erased@example.com', 'cand-ada'];
      expect(await eraseFromControlStore(c, needles, true)).toEqual({
        quarantine: 1,
        ledger: 2,
        remasked: 0,
      });
      expect(await ledgerRows(c)).toHaveLength(4);

      expect(await eraseFromControlStore(c, needles)).toEqual({ quarantine: 1, ledger: 2, remasked: 1 });
      expect(await ledgerRows(c)).toEqual([
        'candidate.create bob@example.com done',
        'candidate.create key:7 failed email ***@example.org is taken',
      ]);
      const left = await sql<{ id: number; raw: string }>`SELECT id, raw FROM push_quarantine`.execute(c.db);
      expect(left.rows).toEqual([{ id: bobEntry, raw: '{"email":"bob@example.com"}' }]);
      // Nothing of the person is left in either table.
      const everything = await sql<{ t: string }>`
      SELECT record_key || ' ' || coalesce(ashby_id, '') || ' ' || coalesce(step_data, '') || ' ' || coalesce(error, '') AS t
      FROM push_ledger
      UNION ALL SELECT raw || ' ' || coalesce(record_key, '') || ' ' || error_message FROM push_quarantine`.execute(
        c.db,
      );
      for (const row of everything.rows) {
        expect(row.t).not.toContain('ada.erased');
        expect(row.t).not.toContain('cand-ada');
      }
    });
  },
);

describe.each(controlDialects('ashpipe erase on a PostgreSQL control store'))(
  'ashpipe erase on %s',
  (dialect) => {
    it('erases the person’s ledger entries in the store ASHPIPE_CONTROL_URL names, and makes no control.db', async () => {
      const target = newControlTarget(dialect);
      control = await openTarget(target);
      await ensurePending(control.db, 'candidate.create', 'ada.erased@example.com', 'run-1');
      await markDone(control.db, 'candidate.create', 'ada.erased@example.com', 'cand-ada', 'created');
      await ensurePending(control.db, 'candidate.create', 'bob@example.com', 'run-1');
      await markDone(control.db, 'candidate.create', 'bob@example.com', 'cand-bob', 'created');
      const jsonl = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-erase-jsonl-'));
      try {
        const env = { ASHPIPE_HOME: target.home, ...(target.url ? { ASHPIPE_CONTROL_URL: target.url } : {}) };
        const r = await runCli(['erase', '--email', 'ada.erased@example.com', '--to', `jsonl:${jsonl}`], env);
        expect(r.err).toBe('');
        expect(r.code).toBe(0);
        expect(r.out).toContain('push ledger: 1 entry erased');
        expect(await ledgerRows(control)).toEqual(['candidate.create bob@example.com done']);
        if (dialect === 'postgres') expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(false);
      } finally {
        fs.rmSync(jsonl, { recursive: true, force: true });
      }
    });
  },
);
