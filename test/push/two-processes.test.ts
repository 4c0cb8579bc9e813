/**
 * Two `ashpipe push` processes on one PostgreSQL control store (its vault holds the key, its ledger the
 * records), the same input, the same sandbox: one of them owns the ledger, the other is refused; the owner
 * is killed (kill -9) part-way, and the next push takes the ledger over, settles what the dead one left in
 * flight and finishes. Every input row is then
 * exactly one candidate in the sandbox's world, created once, and the ledger says done for each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { Vault } from '../../src/vault/vault.js';
import { assertBuilt, BIN } from '../support/built-cli.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';
import { removeAll, tempDir } from './helpers.js';

const RECORDS = 12;
const cleanup: string[] = [];
afterAll(async () => {
  removeAll(cleanup);
  await removeControlTargets();
});

interface Child {
  child: ChildProcess;
  exit: Promise<number | null>;
  stderr: () => string;
}

function push(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => stderr };
}

/** Resolves once `done()` holds, checking every few milliseconds; rejects after `ms`. */
async function until(done: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Candidates of the sandbox's world with `email`, read from the world itself. */
function candidatesWith(sandbox: Sandbox, email: string): number {
  return sandbox.world.allOf('candidate').filter((c) => {
    const addresses = (c as { emailAddresses?: Array<{ value?: unknown }> }).emailAddresses ?? [];
    return addresses.some((e) => e.value === email);
  }).length;
}

const onPostgres = controlDialects('two push processes on one PostgreSQL control store').includes('postgres');

describe.skipIf(!onPostgres)('two push processes on one PostgreSQL control store', () => {
  it('one owns the ledger, the other is refused; after a kill -9 the next push finishes: one candidate per row', async () => {
    assertBuilt();
    const dir = tempDir(cleanup);
    const target = newControlTarget('postgres');
    const url = target.url as string;
    // Each request takes a little while, so the kill lands mid-run with a create in flight.
    const sandbox = await startSandbox({ scale: 5, seed: 17, faults: { latencyMs: 50 } });
    try {
      const emails = Array.from({ length: RECORDS }, (_, i) => `two.processes.${i}@example.com`);
      const input = path.join(dir, 'in.jsonl');
      fs.writeFileSync(
        input,
        emails.map((email, i) => JSON.stringify({ name: `Two ${i}`, email })).join('\n'),
      );
      // The key comes from the vault of the same PostgreSQL store (no ASHBY_API_KEY in the environment).
      const env = { ASHPIPE_HOME: target.home, ASHPIPE_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') };
      const control = await openTarget(target);
      try {
        await new Vault(control, { home: target.home, env }).add({
          name: 'sandbox',
          apiKey: 'sandbox-full',
          baseUrl: sandbox.url,
        });
      } finally {
        await control.close();
      }
      const args = (extra: string[] = []) => [
        'push',
        '--endpoint',
        'candidate.create',
        '--input',
        input,
        '--credential',
        'sandbox',
        '--control',
        url,
        '--concurrency',
        '2',
        ...extra,
      ];

      // Both start together.
      const a = push(args(), env);
      const b = push(args(), env);
      const creates = () => sandbox.stats().requests['candidate.create'] ?? 0;
      // The refused one exits at once; the owner is killed once a few creates have been sent (each request
      // takes 50 ms, so the rest of the run takes over half a second: the kill lands mid-run).
      const refused = await Promise.race([a.exit.then(() => a), b.exit.then(() => b)]);
      const owner = refused === a ? b : a;
      expect(refused.stderr()).toMatch(/another push of candidate\.create is running on this ledger/);
      expect(await refused.exit).not.toBe(0);
      await until(() => creates() >= 3, 30_000, 'the owner to send three creates');
      expect(owner.child.kill('SIGKILL')).toBe(true);
      expect(await owner.exit).toBeNull();
      const createsAtKill = creates();
      expect(createsAtKill).toBeLessThan(RECORDS);
      // A create the dead process left in the sandbox's hands lands before the next push looks.
      await new Promise((r) => setTimeout(r, 50));

      const results = path.join(dir, 'results.jsonl');
      const rerun = push(args(['--results', results]), env);
      const exitCode = await rerun.exit;
      expect(exitCode, rerun.stderr()).toBe(0);
      const lines = fs
        .readFileSync(results, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { status: string });
      expect(lines).toHaveLength(RECORDS);
      for (const l of lines) expect(['created', 'skipped-done']).toContain(l.status);

      // The sandbox's world: exactly one candidate per input row, and one successful create each.
      for (const email of emails) expect(candidatesWith(sandbox, email), email).toBe(1);
      const writes = sandbox.stats().writesByKey['candidate.create'] ?? {};
      expect(emails.map((e) => writes[e] ?? 0)).toEqual(Array(RECORDS).fill(1));

      // The ledger, read from PostgreSQL directly: every record done; the dead run abandoned.
      const schema = new URL(url).searchParams.get('schema') as string;
      const client = new pg.Client({ connectionString: process.env.ASHPIPE_TEST_POSTGRES_URL });
      await client.connect();
      try {
        const ledger = await client.query(
          `SELECT state, count(*)::int AS n FROM "${schema}".push_ledger GROUP BY state`,
        );
        expect(ledger.rows).toEqual([{ state: 'done', n: RECORDS }]);
        const runs = await client.query(`SELECT outcome FROM "${schema}".push_runs ORDER BY started_at`);
        expect(runs.rows).toEqual([{ outcome: 'abandoned' }, { outcome: 'finished' }]);
      } finally {
        await client.end();
      }
    } finally {
      await sandbox.close();
    }
  }, 60_000);
});
