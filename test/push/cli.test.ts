import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { cli, removeAll, tempDir, uniqueEmail, writeRequests, writesFor } from './helpers.js';

const canary = `canary-${randomBytes(12).toString('hex')}`;
/** A second organisation's key, known to the same sandbox (only the account it makes matters). */
const canary2 = `canary-two-${randomBytes(12).toString('hex')}`;
let sandbox: Sandbox;
const cleanup: string[] = [];
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sandbox = await startSandbox({
    scale: 30,
    keys: [
      { key: canary, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true },
      { key: canary2, title: 'Canary two', scopes: [...ALL_SCOPES], confidential: true },
    ],
  });
});
afterAll(() => sandbox.close());
beforeEach(() => {
  dir = tempDir(cleanup);
  env = { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_TEST_KEY: canary };
  sandbox.resetStats();
  sandbox.faults.reset();
});
afterEach(() => removeAll(cleanup));

const keyArgs = () => ['--api-key-env', 'ASHBY_TEST_KEY', '--base-url', sandbox.url];
const push = (...args: string[]) => cli(['push', ...keyArgs(), ...args], env);

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

function jsonLines(p: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('ashpipe operations', () => {
  it('lists every operation with its scope, fields and an example row', async () => {
    const { code, out } = await cli(['operations', '--json'], env);
    expect(code).toBe(0);
    const ops = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(ops.map((o) => o.name)).toEqual(
      expect.arrayContaining([
        'candidate.create',
        'candidate.update',
        'job.create',
        'job.update',
        'application.create',
        'offerProcess.start',
        'candidate.addTag',
        'candidate.createNote',
        'application.changeStage',
        'application.update',
        'customField.setValue',
        'opening.create',
      ]),
    );
    const human = await cli(['operations'], env);
    expect(human.code).toBe(0);
    expect(human.out + human.err).toMatch(/candidatesWrite|Candidates: Write/);
  });
});

describe('ashpipe push', () => {
  it('exit 0 when every record is applied; --json summary; a rerun skips them', async () => {
    const a = uniqueEmail('cli');
    const input = file('ok.csv', `name,email,location.city\r\n"Lovelace, Ada",${a},London\r\n`);
    const first = await push('--endpoint', 'candidate.create', '--input', input, '--json');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.out) as { counts: Record<string, number>; total: number };
    expect(summary).toMatchObject({ total: 1, counts: { created: 1 } });
    const second = await push('--endpoint', 'candidate.create', '--input', input, '--json');
    expect(second.code).toBe(0);
    expect((JSON.parse(second.out) as { counts: Record<string, number> }).counts['skipped-done']).toBe(1);
    expect(writesFor(sandbox, 'candidate.create', a)).toBe(1);
  });

  it('exit 3 with quarantined rows; --results has one line per row; a rerun does not duplicate the quarantine', async () => {
    const good = uniqueEmail('good');
    const input = file(
      'mixed.csv',
      `\uFEFFname,email\n"Good, One",${good}\nBad Email,not-an-email\nRagged,${uniqueEmail()},extra\n"Multi\nLine",${uniqueEmail()}\n`,
    );
    const results = path.join(dir, 'results.jsonl');
    const run = await push(
      '--endpoint',
      'candidate.create',
      '--input',
      input,
      '--results',
      results,
      '--json',
    );
    expect(run.code).toBe(3);
    const lines = jsonLines(results);
    expect(lines.map((l) => [l.row, l.status])).toEqual(
      expect.arrayContaining([
        [1, 'created'],
        [2, 'quarantined'],
        [3, 'quarantined'],
        [4, 'created'],
      ]),
    );
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.row === 2)?.error).toMatchObject({ code: 'invalid_record', path: 'email' });

    const rerun = await push('--endpoint', 'candidate.create', '--input', input, '--results', results);
    expect(rerun.code).toBe(3);
    expect(rerun.out).toMatch(/2 skipped \(done in an earlier run\)/);
    const list = await cli(['quarantine', 'list', '--json'], env);
    const entries = JSON.parse(list.out) as Array<{ rowNumber: number; errorCode: string }>;
    expect(entries.map((e) => e.rowNumber).sort()).toEqual([2, 3]);
    expect(writesFor(sandbox, 'candidate.create', good)).toBe(1);
  });

  it('exit 2 for usage errors: unknown endpoint, a read endpoint, no input', async () => {
    const input = file('x.jsonl', '{"name":"X"}\n');
    expect((await push('--endpoint', 'candidate.fly', '--input', input)).code).toBe(2);
    const read = await push('--endpoint', 'candidate.list', '--input', input);
    expect(read.code).toBe(2);
    expect(read.err).toMatch(/read endpoint/);
    expect((await push('--endpoint', 'candidate.create')).code).toBe(2);
    expect(Object.keys(sandbox.stats().requests)).toHaveLength(0);
  });

  it('exit 1 on a missing permission: one write request, the rest reported pending', async () => {
    env.ASHBY_TEST_KEY = 'sandbox-read';
    const lines = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({ name: `R${i}`, email: uniqueEmail() }),
    );
    const input = file('perm.jsonl', `${lines.join('\n')}\n`);
    const results = path.join(dir, 'perm-results.jsonl');
    const run = await push('--endpoint', 'candidate.create', '--input', input, '--results', results);
    expect(run.code).toBe(1);
    expect(run.err).toContain('this key lacks Candidates: Write (candidatesWrite)');
    expect(writeRequests(sandbox, ['candidate.create'])).toBe(1);
    const out = jsonLines(results);
    expect(out).toHaveLength(6);
    expect(out.filter((l) => l.status === 'pending').length).toBe(5);
    expect(out.filter((l) => l.status === 'failed').map((l) => (l.error as { code: string }).code)).toEqual([
      'missing_endpoint_permission',
    ]);
  });

  it('exit 1 on a key Ashby refuses', async () => {
    env.ASHBY_TEST_KEY = 'not-a-sandbox-key';
    const input = file('k.jsonl', `${JSON.stringify({ name: 'K', email: uniqueEmail() })}\n`);
    const run = await push('--endpoint', 'candidate.create', '--input', input);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/refused the key/);
  });

  it('--dry-run prints the redacted bodies and sends no write', async () => {
    const email = uniqueEmail('dry');
    const input = file('dry.json', JSON.stringify([{ name: 'Dry', email }]));
    const run = await push('--endpoint', 'candidate.create', '--input', input, '--dry-run', '--json');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.out) as { wouldSend: Array<{ endpoint: string; body: unknown }> };
    expect(summary.wouldSend[0]).toMatchObject({
      endpoint: 'candidate.create',
      body: { name: 'Dry', email },
    });
    expect(writeRequests(sandbox, ['candidate.create', 'candidate.update'])).toBe(0);
    expect(sandbox.stats().requests['candidate.search']).toBe(1);
  });

  it('manual mode: --endpoint of any write endpoint sends the record as the body', async () => {
    const candidate = (sandbox.records('candidate.list') as Array<{ id: string }>)[0];
    const input = file(
      'note.jsonl',
      `${JSON.stringify({ candidateId: candidate?.id, note: 'manual note' })}\n`,
    );
    const run = await push('--endpoint', 'candidate.createNote', '--manual', '--input', input, '--json');
    expect(run.code).toBe(0);
    expect(writesFor(sandbox, 'candidate.createNote')).toBe(1);
  });

  it('never prints the key, in any output or file', async () => {
    const input = file('s.csv', `name,email\nS,${uniqueEmail()}\nT,bad\n`);
    const results = path.join(dir, 'secret-results.jsonl');
    const run = await push('--endpoint', 'candidate.create', '--input', input, '--results', results);
    const list = await cli(['quarantine', 'list', '--json'], env);
    for (const text of [run.out, run.err, list.out, fs.readFileSync(results, 'utf8')])
      expect(text).not.toContain(canary);
  });
});

describe('ashpipe quarantine', () => {
  it('show, export, and replay of a fixed record through the same ledger', async () => {
    const email = uniqueEmail('fixed');
    const input = file('q.jsonl', `${JSON.stringify({ name: 'Fix Me', email: 'fix-me-at-example.com' })}\n`);
    expect((await push('--endpoint', 'candidate.create', '--input', input)).code).toBe(3);
    const [entry] = JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out) as Array<{
      id: number;
    }>;
    const shown = await cli(['quarantine', 'show', String(entry?.id), '--json'], env);
    expect(JSON.parse(shown.out)).toMatchObject({
      operation: 'candidate.create',
      rowNumber: 1,
      errorCode: 'invalid_record',
      fieldPath: 'email',
      raw: { name: 'Fix Me' },
    });
    const exported = path.join(dir, 'export.jsonl');
    expect((await cli(['quarantine', 'export', '--out', exported], env)).code).toBe(0);
    const [line] = jsonLines(exported);
    fs.writeFileSync(exported, `${JSON.stringify({ ...line, raw: { name: 'Fix Me', email } })}\n`);

    const replay = await cli(['quarantine', 'replay', ...keyArgs(), '--input', exported, '--json'], env);
    expect(replay.code).toBe(0);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
    expect(JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out)).toEqual([]);
    const replayed = JSON.parse(
      (await cli(['quarantine', 'list', '--status', 'replayed', '--json'], env)).out,
    );
    expect(replayed).toHaveLength(1);

    // The fixed record is in the ledger now: pushing it again is a no-op.
    const again = await push(
      '--endpoint',
      'candidate.create',
      '--input',
      file('f.jsonl', `${JSON.stringify({ name: 'Fix Me', email })}\n`),
      '--json',
    );
    expect((JSON.parse(again.out) as { counts: Record<string, number> }).counts['skipped-done']).toBe(1);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
  });

  it('an unknown outcome stays unsent on a rerun; replay is the person’s go-ahead to send it', async () => {
    const job = (
      sandbox.records('job.list') as Array<{ id: string; status: string; confidential: boolean }>
    ).find((j) => j.status === 'Open' && !j.confidential);
    const candidate = (sandbox.records('candidate.list') as Array<{ id: string }>)[3];
    const res = await fetch(`${sandbox.url}/application.create`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${canary}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ candidateId: candidate?.id, jobId: job?.id }),
    });
    const applicationId = ((await res.json()) as { results: { id: string } }).results.id;
    const input = file('offer.jsonl', `${JSON.stringify({ applicationId })}\n`);
    // A 5xx on a write that is not safe to repeat: the client cannot know whether it was applied.
    sandbox.faults.set({ failEndpoints: { 'offerProcess.start': { status: 500 } } });
    const first = await push('--endpoint', 'offerProcess.start', '--input', input);
    expect(first.code).toBe(3);
    sandbox.faults.reset();
    const rerun = await push('--endpoint', 'offerProcess.start', '--input', input);
    expect(rerun.code).toBe(3);
    expect(sandbox.stats().requests['offerProcess.start']).toBe(1);
    const [entry] = JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out) as Array<{
      id: number;
      errorCode: string;
    }>;
    expect(entry?.errorCode).toBe('outcome_unknown');
    const replay = await cli(['quarantine', 'replay', ...keyArgs(), String(entry?.id)], env);
    expect(replay.code).toBe(0);
    // No endpoint lists offer processes: the replay says it sent on the person's word, not after a look-up.
    expect(replay.err).toContain('has no look-up');
    expect(replay.err).toContain(`entry ${entry?.id}`);
    expect(writesFor(sandbox, 'offerProcess.start', applicationId)).toBe(1);
    expect(JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out)).toEqual([]);
  });

  it('replay through another API key (another account) is refused, naming both by fingerprint, never a key', async () => {
    const email = uniqueEmail('acct');
    const input = file('acct.jsonl', `${JSON.stringify({ name: 'Other', email: 'not-an-email' })}\n`);
    expect((await push('--endpoint', 'candidate.create', '--input', input)).code).toBe(3);
    const [entry] = JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out) as Array<{
      id: number;
      account: string;
      accountName: string;
    }>;
    expect(entry?.account).toMatch(/^key:[0-9a-f]{32}$/);
    expect(entry?.accountName).toBe(`the API key with fingerprint ${entry?.account.slice(4, 16)}`);
    const fixed = file(
      'fixed.jsonl',
      `${JSON.stringify({ id: entry?.id, raw: { name: 'Other', email } })}\n`,
    );
    const other = 'another-organisations-key-0123456789';
    const refused = await cli(
      ['quarantine', 'replay', '--api-key-env', 'OTHER_KEY', '--base-url', sandbox.url, '--input', fixed],
      { ...env, OTHER_KEY: other },
    );
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(
      `quarantine entry ${entry?.id} belongs to the API key with fingerprint ${entry?.account.slice(4, 16)}, not to the API key with fingerprint `,
    );
    expect(`${refused.out}${refused.err}`).not.toContain(other);
    expect(`${refused.out}${refused.err}`).not.toContain(canary);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(0);
    // Through the key that quarantined it, the replay applies it.
    expect((await cli(['quarantine', 'replay', ...keyArgs(), '--input', fixed], env)).code).toBe(0);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
  });

  it('list and export one account’s entries with --account (a fingerprint as shown, or the stored form); an unknown account is a usage error naming those there are', async () => {
    const input = file('bad.jsonl', `${JSON.stringify({ name: 'Bad', email: 'not-an-email' })}\n`);
    expect((await push('--endpoint', 'candidate.create', '--input', input)).code).toBe(3);
    const other = ['push', '--api-key-env', 'SECOND_KEY', '--base-url', sandbox.url];
    expect(
      (
        await cli([...other, '--endpoint', 'candidate.create', '--input', input], {
          ...env,
          SECOND_KEY: canary2,
        })
      ).code,
    ).toBe(3);
    type Entry = { id: number; account: string; accountName: string };
    const all = JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out) as Entry[];
    expect(all).toHaveLength(2);
    const [first, second] = all as [Entry, Entry];
    expect(first.account).not.toBe(second.account);
    const list = async (account: string) => {
      const r = await cli(['quarantine', 'list', '--account', account, '--json'], env);
      expect(r.code, r.err).toBe(0);
      return (JSON.parse(r.out) as Entry[]).map((e) => e.id);
    };
    // The fingerprint as `quarantine list` shows it (12 hex digits), and the stored form.
    expect(await list(first.account.slice(4, 16))).toEqual([first.id]);
    expect(await list(second.account)).toEqual([second.id]);
    const unknown = await cli(['quarantine', 'list', '--account', 'nobody'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(
      `no quarantined records of account "nobody"; there are: ${[first.accountName, second.accountName].sort().join(', ')}`,
    );
    const out = path.join(dir, 'second.jsonl');
    const exported = await cli(
      ['quarantine', 'export', '--account', second.account.slice(4, 16), '--out', out],
      env,
    );
    expect(exported.code, exported.err).toBe(0);
    expect(jsonLines(out).map((l) => l.id)).toEqual([second.id]);
    for (const r of [unknown, exported]) {
      expect(`${r.out}${r.err}`).not.toContain(canary);
      expect(`${r.out}${r.err}`).not.toContain(canary2);
    }
  });

  it('ledger claim names the account by fingerprint, never the key; an unknown operation is a usage error', async () => {
    const input = file('one.jsonl', `${JSON.stringify({ name: 'Claimed', email: uniqueEmail('claim') })}\n`);
    expect((await push('--endpoint', 'candidate.create', '--input', input)).code).toBe(0);
    const claimed = await cli(['ledger', 'claim', ...keyArgs(), '--operation', 'candidate.create'], env);
    expect(claimed.code, claimed.err).toBe(0);
    // Nothing was written before accounts in this store: nothing to give.
    expect(claimed.out).toMatch(
      /^gave 0 ledger entries and 0 quarantine entries to the API key with fingerprint [0-9a-f]{12}\n$/,
    );
    const json = await cli(['ledger', 'claim', ...keyArgs(), '--dry-run', '--json'], env);
    expect(JSON.parse(json.out)).toMatchObject({ entries: 0, quarantine: 0, keptShared: 0, dryRun: true });
    const unknown = await cli(['ledger', 'claim', ...keyArgs(), '--operation', 'candidate.fly'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown endpoint or operation "candidate.fly"');
    for (const r of [claimed, json, unknown]) expect(`${r.out}${r.err}`).not.toContain(canary);
  });

  it('replay with --map re-maps the raw records; a record that fails again stays open', async () => {
    const email = uniqueEmail('mapped');
    // JSONL: rows whose keys do not map are quarantined one by one (a CSV header like this is refused whole).
    const input = file('m.jsonl', `${JSON.stringify({ 'Full name': 'Mapped', 'E-mail': email })}\n`);
    expect((await push('--endpoint', 'candidate.create', '--input', input)).code).toBe(3);
    const bad = await cli(['quarantine', 'replay', ...keyArgs(), '--operation', 'candidate.create'], env);
    expect(bad.code).toBe(3);
    expect(JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out)).toHaveLength(1);
    const map = file('map.json', JSON.stringify({ columns: { 'Full name': 'name', 'E-mail': 'email' } }));
    const good = await cli(
      ['quarantine', 'replay', ...keyArgs(), '--operation', 'candidate.create', '--map', map],
      env,
    );
    expect(good.code).toBe(0);
    expect(writesFor(sandbox, 'candidate.create', email)).toBe(1);
    expect(JSON.parse((await cli(['quarantine', 'list', '--json'], env)).out)).toEqual([]);
  });
});
