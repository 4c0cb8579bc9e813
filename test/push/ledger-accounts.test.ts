/**
 * The push ledger scoped to the Ashby account a push writes to, on both control-store dialects, against
 * two sandboxes (two organisations, each with its own world): each account gets each record once, pushes
 * to different accounts run together while pushes to one account still take turns, and a ledger written
 * before accounts keeps skipping the records it applied.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../src/control/migrations/index.js';
import { credentialAccount, keyAccount } from '../../src/push/account.js';
import {
  claimShared,
  ensurePending,
  finishRun,
  getLedgerEntry,
  markDone,
  markInFlight,
  PushRunConflictError,
  startRun,
} from '../../src/push/ledger.js';
import { emptyPushCounts } from '../../src/push/run.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { pushEngine } from '../../src/server/engines.js';
import type { Flow, RunCount } from '../../src/server/model.js';
import { silentLogger } from '../../src/util/logger.js';
import { controlDialects, newControlTarget } from '../support/control.js';
import {
  candidateCreateFlow,
  inWorld,
  pushTo,
  sandboxClient,
  twoOrganisations,
  uniqueEmail,
  writesFor,
} from './helpers.js';

const OP = 'candidate.create';
const orgs = twoOrganisations();
const open = orgs.open;

/** The id of the candidate with `email` in the sandbox's world. */
function idIn(sandbox: Sandbox, email: string): string | undefined {
  return (sandbox.records('candidate.search', { body: { email } }) as Array<{ id: string }>)[0]?.id;
}

const people = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `Person ${i}`, email: uniqueEmail('acct') }));

describe.each(controlDialects('the account-scoped push ledger on PostgreSQL'))(
  'push ledger accounts on %s',
  (dialect) => {
    it('gives each record to each account exactly once, reruns included', async () => {
      const control = await open(newControlTarget(dialect));
      // One account reached with a stored credential, the other with a raw key.
      const a = credentialAccount('cred-org-a');
      const b = await keyAccount(control, 'sandbox-full');
      const rows = people(4);
      // `create` sends a create whatever Ashby has: only the ledger stands between a rerun and a duplicate.
      const extra = { onExisting: 'create' as const, keyColumn: 'email' };
      for (let round = 0; round < 2; round++) {
        const first = await pushTo(orgs.orgA, control, OP, rows, { ...extra, account: a });
        const second = await pushTo(orgs.orgB, control, OP, rows, { ...extra, account: b });
        const expected = round === 0 ? 'created' : 'skipped-done';
        expect(first.results.map((r) => r.status)).toEqual([expected, expected, expected, expected]);
        expect(second.results.map((r) => r.status)).toEqual([expected, expected, expected, expected]);
      }
      for (const { email } of rows) {
        expect(writesFor(orgs.orgA, OP, email)).toBe(1);
        expect(writesFor(orgs.orgB, OP, email)).toBe(1);
        expect(inWorld(orgs.orgA, email)).toBe(1);
        expect(inWorld(orgs.orgB, email)).toBe(1);
      }
      // Each account's entry holds the id its own organisation gave.
      const first = rows[0];
      if (!first) throw new Error('no rows');
      const key = `key:${first.email}`;
      const inA = await getLedgerEntry(control.db, { operation: OP, account: a }, key);
      const inB = await getLedgerEntry(control.db, { operation: OP, account: b }, key);
      expect(inA?.ashbyId).toBe(idIn(orgs.orgA, first.email));
      expect(inB?.ashbyId).toBe(idIn(orgs.orgB, first.email));
      expect(inA?.ashbyId).not.toBe(inB?.ashbyId);
    });

    it('runs pushes to different accounts at once; pushes to one account still take turns', async () => {
      const target = newControlTarget(dialect);
      const control = await open(target);
      // On PostgreSQL a second pool, as a second process would have.
      const other = dialect === 'postgres' ? await open(target) : control;
      const a = { operation: OP, account: credentialAccount('cred-org-a') };
      const b = { operation: OP, account: credentialAccount('cred-org-b') };
      const held = await startRun(control, a, 'held', false);
      // A whole push to account B while A's run owns A's ledger.
      const rows = people(3);
      const pushed = await pushTo(orgs.orgB, other, OP, rows, { account: b.account });
      expect(pushed.summary.counts.created).toBe(3);
      for (const { email } of rows) expect(inWorld(orgs.orgB, email)).toBe(1);
      // Account A is refused, from either pool, and nothing reaches A.
      await expect(pushTo(orgs.orgA, other, OP, rows, { account: a.account })).rejects.toThrow(
        PushRunConflictError,
      );
      await expect(startRun(control, a, 'again', false)).rejects.toThrow(/for this account/);
      for (const { email } of rows) expect(inWorld(orgs.orgA, email)).toBe(0);
      // A push without an account may write to any: it waits for every account, and every account for it.
      await expect(startRun(other, OP, 'shared', false)).rejects.toThrow(PushRunConflictError);
      await finishRun(control.db, held, 'finished', emptyPushCounts());
      const shared = await startRun(other, OP, 'shared', false);
      await expect(startRun(control, b, 'b', false)).rejects.toThrow(PushRunConflictError);
      await finishRun(other.db, shared, 'finished', emptyPushCounts());
      // Both accounts at the same moment, on two pools: both runs start.
      const [ra, rb] = await Promise.all([startRun(control, a, 'a', false), startRun(other, b, 'b', false)]);
      expect(ra).not.toBe(rb);
    });

    it('destination flows on two credentials (two organisations) push the same rows at once, each row once to each', async () => {
      const control = await open(newControlTarget(dialect));
      const rows = people(4);
      const progress: RunCount[][] = [];
      const run = (flow: Flow, org: Sandbox) =>
        pushEngine(control, { ledgerWaitMs: 10, reconcileDelayMs: 0 })(flow, {
          runId: `run-${flow.id}`,
          apiKey: 'sandbox-full',
          baseUrl: org.url,
          signal: new AbortController().signal,
          logger: silentLogger,
          dryRun: false,
          progress: (u) => progress.push(u.counts),
        });
      const [ra, rb] = await Promise.all([
        run(candidateCreateFlow(`a-${dialect}`, 'cred-org-a', rows), orgs.orgA),
        run(candidateCreateFlow(`b-${dialect}`, 'cred-org-b', rows), orgs.orgB),
      ]);
      for (const r of [ra, rb]) {
        expect(r.status, JSON.stringify(r)).toBe('succeeded');
        expect(r.counts).toEqual([expect.objectContaining({ read: 4, written: 4 })]);
      }
      // Neither waited for the other: their ledgers are not the same.
      expect(progress.flat().some((c) => /waiting for another push/.test(c.message ?? ''))).toBe(false);
      for (const { email } of rows) {
        expect(inWorld(orgs.orgA, email)).toBe(1);
        expect(inWorld(orgs.orgB, email)).toBe(1);
      }
      // Another flow on credential A with the same rows: A's ledger has them all.
      const again = await run(candidateCreateFlow(`a2-${dialect}`, 'cred-org-a', rows), orgs.orgA);
      expect(again.counts).toEqual([expect.objectContaining({ read: 4, written: 0 })]);
      for (const { email } of rows) expect(writesFor(orgs.orgA, OP, email)).toBe(1);
    });

    it('keeps skipping the records a ledger written before accounts applied, for every account', async () => {
      const target = newControlTarget(dialect);
      // The store as it was: every migration before the ledger had accounts.
      const before = await open(target, { migrations: migrations.filter((m) => m.id < '0430') });
      const applied = people(2);
      const fresh = people(1);
      // Account A received the applied records under the old ledger (its world has them once).
      const client = sandboxClient(orgs.orgA);
      const legacyRows = [];
      for (const p of applied) {
        const res = await client.call<{ id: string }>(OP, p);
        legacyRows.push({ email: p.email, id: res.results.id });
      }
      const t = new Date().toISOString();
      // Keyed by the email column (`--key email`).
      for (const r of legacyRows)
        await sql`INSERT INTO push_ledger (operation, record_key, state, ashby_id, status, attempts, created_at, updated_at)
        VALUES (${OP}, ${`key:${r.email}`}, 'done', ${r.id}, 'created', 1, ${t}, ${t})`.execute(before.db);
      await orgs.close(before);

      const control = await open(target);
      const keyOf = async () => {
        // The key the engine gives the first applied record, so the legacy rows above match it.
        const { results } = await pushTo(orgs.orgA, control, OP, [applied[0] ?? {}], {
          dryRun: true,
          keyColumn: 'email',
        });
        return results[0]?.key;
      };
      expect(await keyOf()).toBe(`key:${legacyRows[0]?.email}`);
      const a = credentialAccount('cred-org-a');
      const b = credentialAccount('cred-org-b');
      const rows = [...applied, ...fresh];
      const extra = { onExisting: 'create' as const, keyColumn: 'email' };
      const toA = await pushTo(orgs.orgA, control, OP, rows, { ...extra, account: a });
      const toB = await pushTo(orgs.orgB, control, OP, rows, { ...extra, account: b });
      // Which account received the old rows is unknown: they are skipped for both, never sent twice.
      expect(toA.results.map((r) => r.status)).toEqual(['skipped-done', 'skipped-done', 'created']);
      expect(toB.results.map((r) => r.status)).toEqual(['skipped-done', 'skipped-done', 'created']);
      for (const { email } of applied) {
        expect(inWorld(orgs.orgA, email)).toBe(1);
        expect(writesFor(orgs.orgA, OP, email)).toBe(1);
        expect(inWorld(orgs.orgB, email)).toBe(0);
      }
      for (const { email } of fresh) {
        expect(inWorld(orgs.orgA, email)).toBe(1);
        expect(inWorld(orgs.orgB, email)).toBe(1);
      }
      // The old rows stay shared (not claimed by the first account that met them).
      const accounts = await control.db
        .selectFrom('push_ledger')
        .select(['account', 'record_key'])
        .where('state', '=', 'done')
        .orderBy('account')
        .orderBy('record_key')
        .execute();
      expect(accounts.filter((r) => r.account === '').map((r) => r.record_key)).toEqual(
        legacyRows.map((r) => `key:${r.email}`).sort(),
      );
      expect(accounts.filter((r) => r.account !== '')).toHaveLength(2);

      // `ledger claim` for A, the account that received them. A shared entry of a record A has its own
      // entry for stays shared.
      await sql`INSERT INTO push_ledger (account, operation, record_key, state, ashby_id, status, attempts, created_at, updated_at)
        VALUES ('', ${OP}, ${`key:${fresh[0]?.email}`}, 'done', 'old-id', 'created', 1, ${t}, ${t})`.execute(
        control.db,
      );
      const claim = (dryRun: boolean) =>
        control.transaction((trx) => claimShared(trx, a, { operation: OP, dryRun }));
      expect(await claim(true)).toEqual({ entries: 2, quarantine: 0, keptShared: 1 });
      expect(await claim(false)).toEqual({ entries: 2, quarantine: 0, keptShared: 1 });
      expect(await claim(false)).toEqual({ entries: 0, quarantine: 0, keptShared: 1 });
      // B gets the two records now, once; A still skips them; nothing is sent twice anywhere.
      const againB = await pushTo(orgs.orgB, control, OP, rows, { ...extra, account: b });
      expect(againB.results.map((r) => r.status)).toEqual(['created', 'created', 'skipped-done']);
      const againA = await pushTo(orgs.orgA, control, OP, rows, { ...extra, account: a });
      expect(againA.results.map((r) => r.status)).toEqual(['skipped-done', 'skipped-done', 'skipped-done']);
      for (const { email } of applied) {
        expect(inWorld(orgs.orgB, email)).toBe(1);
        expect(writesFor(orgs.orgB, OP, email)).toBe(1);
        expect(writesFor(orgs.orgA, OP, email)).toBe(1);
      }
    });

    it('sends a vouched write again only for the replaying account, and only while it is in flight', async () => {
      const control = await open(newControlTarget(dialect));
      const a = { operation: OP, account: credentialAccount('cred-org-a') };
      const b = { operation: OP, account: credentialAccount('cred-org-b') };
      const [p] = people(1);
      if (!p) throw new Error('no person');
      const key = `key:${p.email}`;
      // In flight for A (outcome unknown); B applied it long ago.
      const runA = await startRun(control, a, 'lost', false);
      await ensurePending(control.db, a, key, runA);
      await markInFlight(control.db, a, key, runA, OP, {});
      await finishRun(control.db, runA, 'finished', emptyPushCounts());
      const runB = await startRun(control, b, 'done', false);
      const entryB = await ensurePending(control.db, b, key, runB);
      expect(entryB.account).toBe(b.account);
      await finishRun(control.db, runB, 'finished', emptyPushCounts());
      await markDone(control.db, b, key, 'cand-b', 'created');

      const extra = { onExisting: 'create' as const, keyColumn: 'email', resendInFlight: [key] };
      const toB = await pushTo(orgs.orgB, control, OP, [p], { ...extra, account: b.account });
      expect(toB.results[0]?.status).toBe('skipped-done');
      expect(inWorld(orgs.orgB, p.email)).toBe(0);
      const toA = await pushTo(orgs.orgA, control, OP, [p], { ...extra, account: a.account });
      expect(toA.results[0]?.status).toBe('created');
      expect(writesFor(orgs.orgA, OP, p.email)).toBe(1);
    });
  },
);

describe('the account of a raw key', () => {
  it('is a keyed fingerprint: stable in one store, different per key and per store, never the key', async () => {
    const t1 = newControlTarget('sqlite');
    const one = await open(t1);
    const fp = await keyAccount(one, 'sandbox-full');
    expect(fp).toMatch(/^key:[0-9a-f]{32}$/);
    expect(fp).not.toContain('sandbox-full');
    expect(await keyAccount(one, 'sandbox-full')).toBe(fp);
    expect(await keyAccount(one, 'sandbox-other')).not.toBe(fp);
    // Not a plain hash of the key: another store's secret gives another fingerprint.
    const plain = createHash('sha256').update('sandbox-full').digest('hex');
    expect(fp.slice(4)).not.toBe(plain.slice(0, 32));
    const other = await open(newControlTarget('sqlite'));
    expect(await keyAccount(other, 'sandbox-full')).not.toBe(fp);
    // The secret is kept with the store: reopened, the same key is the same account.
    await orgs.close(one);
    const again = await open(t1);
    expect(await keyAccount(again, 'sandbox-full')).toBe(fp);
  });
});
