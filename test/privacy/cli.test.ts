import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControl } from '../../src/control/open.js';
import { ensurePending, getLedgerEntry, markDone } from '../../src/push/ledger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { runCli } from '../support/cli.js';
import { canary, filesUnder, foundIn, plantCanary } from './helpers.js';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-pii-cli-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('ashpipe pii catalogue', () => {
  it('prints the catalogue in 100 columns, and as JSON', async () => {
    const r = await runCli(['pii', 'catalogue'], { ASHPIPE_HOME: home });
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines.filter((l) => l.length > 100)).toEqual([]);
    expect(r.out).toMatch(/candidates\s+primaryEmailAddress\.value\s+hash\s+email/);
    expect(r.out).toMatch(/offers\s+latestVersion\.salary\s+drop\s+money/);
    const json = await runCli(['pii', 'catalogue', '--json'], { ASHPIPE_HOME: home });
    const { catalogue } = JSON.parse(json.out) as { catalogue: Array<Record<string, string>> };
    expect(catalogue).toContainEqual({
      stream: 'applications',
      path: 'candidate.primaryPhoneNumber.value',
      action: 'hash',
      kind: 'phone',
    });
  });
});

describe('ashpipe sync --pii-policy', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 20, seed: 3 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-pii-'));
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({
    ASHPIPE_HOME: home,
    ASHBY_API_KEY: 'sandbox-full',
    ASHBY_BASE_URL: sandbox.url,
  });

  it('names the file, line and path of a mistake in a policy file, and exits 2', async () => {
    const file = path.join(dir, 'pii.yaml');
    fs.writeFileSync(file, 'extends: default\nstreams:\n  candidates:\n    name: scramble\n');
    const r = await runCli(['sync', '--to', `sqlite:${path.join(dir, 'x.db')}`, '--pii-policy', file], env());
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:4: streams.candidates.name: unknown action "scramble"`);
    expect(fs.existsSync(path.join(dir, 'x.db'))).toBe(false);
  });

  it('hashes with the default policy (creating the master key), and warns once when the policy changes', async () => {
    const db = path.join(dir, 'a.db');
    const first = await runCli(
      ['sync', '--to', `sqlite:${db}`, '--streams', 'candidates', '--pii-policy', 'default'],
      env(),
    );
    expect(first.code).toBe(0);
    expect(first.err).toContain('Created the vault master key');
    expect(fs.existsSync(path.join(home, 'master.key'))).toBe(true);
    const read = () => {
      const d = openSqlite(db);
      try {
        return d.prepare('SELECT _ashpipe_raw AS raw FROM candidates').all() as Array<{ raw: string }>;
      } finally {
        d.close();
      }
    };
    const emails = read().map(
      (r) => (JSON.parse(r.raw) as { primaryEmailAddress?: { value: string } }).primaryEmailAddress?.value,
    );
    expect(emails.filter((e) => e !== undefined && !/^[0-9a-f]{64}$/.test(e))).toEqual([]);
    expect(emails.filter((e) => e !== undefined).length).toBeGreaterThan(0);
    expect(first.err).not.toContain('PII policy changed');

    const same = await runCli(
      ['sync', '--to', `sqlite:${db}`, '--streams', 'candidates', '--pii-policy', 'default'],
      env(),
    );
    expect(same.code).toBe(0);
    expect(same.err).not.toContain('PII policy changed');

    const changed = await runCli(['sync', '--to', `sqlite:${db}`, '--streams', 'candidates'], env());
    expect(changed.code).toBe(0);
    const warnings = changed.err.split('\n').filter((l) => l.includes('PII policy changed'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('rows stored before keep the old form until re-synced with --full-refresh');
  });

  it('--on-delete: a bad value exits 2 naming it; purge erases a deleted candidate and says so', async () => {
    const db = path.join(dir, 'purge.db');
    const bad = await runCli(['sync', '--to', `sqlite:${db}`, '--on-delete', 'shred'], env());
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--on-delete: expected soft or purge, got "shred"');
    const receive = await runCli(
      ['webhooks', 'receive', '--to', `sqlite:${db}`, '--insecure-no-signature', '--on-delete', 'shred'],
      env(),
    );
    expect(receive.code).toBe(2);
    expect(receive.err).toContain('--on-delete: expected soft or purge, got "shred"');
    const person = canary('c11', 'Cli');
    const { candidateId } = plantCanary(sandbox, 2, person);
    const gone = { id: candidateId };
    const args = ['sync', '--to', `sqlite:${db}`, '--streams', 'candidates', '--on-delete', 'purge'];
    expect((await runCli(args, env())).code).toBe(0);
    const files = () =>
      Buffer.concat(
        [
          ...filesUnder(home),
          ...fs
            .readdirSync(dir)
            .filter((f) => f.startsWith('purge.db'))
            .map((f) => path.join(dir, f)),
        ].map((f) => fs.readFileSync(f)),
      );
    expect(foundIn(files(), person)).toHaveLength(3);
    // The exactly-once ledger knows the person by their address (the key of candidate.create), and another.
    const other = 'someone.else.c11@example.org';
    const control = await openControl({ home });
    try {
      for (const [email, id] of [
        [person.email, candidateId],
        [other, 'other-c11'],
      ] as const) {
        await ensurePending(control.db, 'candidate.create', email, 'run-c11');
        await markDone(control.db, 'candidate.create', email, id, 'created');
      }
    } finally {
      await control.close();
    }
    sandbox.mutate.deleteCandidate(candidateId);
    const r = await runCli([...args, '--full-refresh'], env());
    expect(r.code).toBe(0);
    expect(r.err).toContain('purged 1 deleted candidate and 0 applications');
    const d = openSqlite(db);
    try {
      expect(d.prepare('SELECT count(*) AS n FROM candidates WHERE id = ?').get(String(gone?.id))).toEqual({
        n: 0,
      });
      expect(d.prepare('SELECT reason FROM _ashpipe_erasures').all()).toEqual([
        { reason: 'gone from full pass' },
      ]);
    } finally {
      d.close();
    }
    // Not in the database file, nor in the home: the control store and the run logs.
    expect(foundIn(files(), person)).toEqual([]);
    // The other person's ledger entry stays: they are still pushed exactly once.
    const after = await openControl({ home });
    try {
      expect(await getLedgerEntry(after.db, 'candidate.create', person.email)).toBeUndefined();
      expect((await getLedgerEntry(after.db, 'candidate.create', other))?.ashbyId).toBe('other-c11');
    } finally {
      await after.close();
    }
  });
});
