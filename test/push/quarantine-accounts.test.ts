/**
 * Quarantine entries scoped to the Ashby account a push writes to, on both control-store dialects,
 * against two sandboxes (two organisations): the same bad row pushed to both gives each its own entry,
 * a corrected push to one closes only that account's entry, and a replay is refused through another
 * account's credential, naming both by their credential names.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../src/control/migrations/index.js';
import type { Control } from '../../src/control/open.js';
import { credentialAccount } from '../../src/push/account.js';
import { claimShared, getQuarantine, listQuarantine } from '../../src/push/ledger.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { ConflictError } from '../../src/server/errors.js';
import { LedgerQuarantineService } from '../../src/server/quarantine.js';
import type { ReplayResult } from '../../src/server/services.js';
import { silentLogger } from '../../src/util/logger.js';
import { controlDialects, newControlTarget } from '../support/control.js';
import { candidateCreateFlow, inWorld, pushTo, twoOrganisations, uniqueEmail, writesFor } from './helpers.js';

const OP = 'candidate.create';
const FILE = 'file:/data/candidates.csv';
const A = credentialAccount('cred-org-a');
const B = credentialAccount('cred-org-b');
const orgs = twoOrganisations();
const open = orgs.open;

/** Stored credentials `org-a` and `org-b`, as the vault writes them (only the names matter here). */
async function addCredentials(control: Control): Promise<void> {
  const t = new Date().toISOString();
  const blob = Buffer.from('00', 'hex');
  for (const [id, name] of [
    ['cred-org-a', 'org-a'],
    ['cred-org-b', 'org-b'],
  ])
    await control.db
      .insertInto('credentials')
      .values({
        id: id as string,
        name: name as string,
        description: null,
        base_url: null,
        key_ciphertext: blob,
        key_iv: blob,
        key_tag: blob,
        data_key_wrapped: blob,
        data_key_iv: blob,
        data_key_tag: blob,
        key_suffix: 'zzzz',
        verified_at: null,
        verification: null,
        created_at: t,
        updated_at: t,
        rotated_at: null,
      })
      .execute();
}

const ctxOf = (org: Sandbox) => ({
  runId: 'replay-run',
  apiKey: 'sandbox-full',
  baseUrl: org.url,
  signal: new AbortController().signal,
  logger: silentLogger,
  dryRun: false,
  progress: () => {},
});

describe.each(controlDialects('the account-scoped quarantine on PostgreSQL'))(
  'quarantine accounts on %s',
  (dialect) => {
    it('one entry per account; a corrected push closes its own account’s; a replay goes only to its account', async () => {
      const control = await open(newControlTarget(dialect));
      await addCredentials(control);
      const bad = { name: 'Bad', email: 'not-an-email' };
      // The same bad row, at the same place of the same input, pushed to both organisations.
      const toA = await pushTo(orgs.orgA, control, OP, [bad], { inputKey: FILE, account: A });
      const toB = await pushTo(orgs.orgB, control, OP, [bad], { inputKey: FILE, account: B });
      const idA = toA.results[0]?.quarantineId;
      const idB = toB.results[0]?.quarantineId;
      expect(toA.results[0]?.status).toBe('quarantined');
      expect(toB.results[0]?.status).toBe('quarantined');
      expect(idA).toBeDefined();
      expect(idB).toBeDefined();
      expect(idB).not.toBe(idA);
      const open1 = await listQuarantine(control.db);
      expect(open1.map((e) => [e.id, e.account])).toEqual([
        [idA, A],
        [idB, B],
      ]);

      // Shown by credential name, never the key.
      const service = new LedgerQuarantineService(control);
      const items = await service.list({ limit: 10, offset: 0 });
      expect(items.map((i) => [i.id, i.account])).toEqual([
        [String(idA), 'credential "org-a"'],
        [String(idB), 'credential "org-b"'],
      ]);

      // The row corrected and pushed to A: A's entry is resolved, B's stays open (B lacks the record).
      const fixed = { name: 'Fixed', email: uniqueEmail('qacct') };
      const again = await pushTo(orgs.orgA, control, OP, [fixed], { inputKey: FILE, account: A });
      expect(again.results[0]?.status).toBe('created');
      expect((await getQuarantine(control.db, idA as number))?.status).toBe('resolved');
      expect((await getQuarantine(control.db, idB as number))?.status).toBe('open');
      expect(inWorld(orgs.orgA, fixed.email)).toBe(1);
      expect(inWorld(orgs.orgB, fixed.email)).toBe(0);

      // B's entry replayed through A's flow: refused before anything runs, both accounts named.
      const result: ReplayResult = { replayed: 0, failed: 0 };
      const records = new Map([[String(idB), fixed]]);
      const refused = service.replayEngine([String(idB)], result, { records, credentialId: 'cred-org-a' });
      await expect(refused).rejects.toThrow(ConflictError);
      await expect(refused).rejects.toThrow(
        `quarantine entry ${idB} belongs to credential "org-b", not to credential "org-a"`,
      );
      // Also when the engine is run by a flow of A without being told beforehand.
      const engine = await service.replayEngine([String(idB)], result, { records });
      await expect(
        engine(candidateCreateFlow(`a-${dialect}`, 'cred-org-a'), ctxOf(orgs.orgA)),
      ).rejects.toThrow(/belongs to credential "org-b", not to credential "org-a"/);
      expect((await getQuarantine(control.db, idB as number))?.status).toBe('open');
      expect(writesFor(orgs.orgA, OP, fixed.email)).toBe(1);

      // Through B's own flow the replay applies it to B and closes the entry.
      const ok = await service.replayEngine([String(idB)], result, { records, credentialId: 'cred-org-b' });
      const run = await ok(candidateCreateFlow(`b-${dialect}`, 'cred-org-b'), ctxOf(orgs.orgB));
      expect(run.status).toBe('succeeded');
      expect(result.replayed).toBe(1);
      expect((await getQuarantine(control.db, idB as number))?.status).toBe('replayed');
      expect(inWorld(orgs.orgB, fixed.email)).toBe(1);
      expect(writesFor(orgs.orgA, OP, fixed.email)).toBe(1);
    });

    it('entries written before accounts stay shared: any account’s push closes them', async () => {
      const target = newControlTarget(dialect);
      const before = await open(target, { migrations: migrations.filter((m) => m.id < '0440') });
      // Its place in the input: row 1 of FILE, as the engine names a row without a key column.
      const place = `row:${createHash('sha256').update(`${FILE}\u00001`).digest('hex')}`;
      const t = new Date().toISOString();
      const inserted = await sql<{
        id: number;
      }>`INSERT INTO push_quarantine (run_id, at, operation, row_number,
        error_code, error_message, raw, options, input_key)
        VALUES ('old-run', ${t}, ${OP}, 1, 'invalid', 'email: not an email', '{}', '{}', ${place})
        RETURNING id`.execute(before.db);
      const id = inserted.rows[0]?.id;
      expect(id).toBeDefined();
      await orgs.close(before);

      const control = await open(target);
      expect((await getQuarantine(control.db, id as number))?.account).toBe('');
      const fixed = { name: 'Fixed', email: uniqueEmail('qacct') };
      const toB = await pushTo(orgs.orgB, control, OP, [fixed], { inputKey: FILE, account: B });
      expect(toB.results[0]?.status).toBe('created');
      const entry = await getQuarantine(control.db, id as number);
      expect(entry?.status).toBe('resolved');
      expect(entry?.closedBy).toBe(`push run ${toB.summary.runId}`);
      // `ledger claim` gives it to the account named (closed entries too: they keep their history there).
      expect(await control.transaction((trx) => claimShared(trx, B, { operation: OP }))).toMatchObject({
        quarantine: 1,
      });
      expect((await getQuarantine(control.db, id as number))?.account).toBe(B);
      expect(await control.transaction((trx) => claimShared(trx, A))).toMatchObject({ quarantine: 0 });
    });
  },
);
