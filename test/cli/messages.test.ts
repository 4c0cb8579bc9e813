/**
 * What the CLI says when something is wrong, and its exit code: each message here is written by hand, as
 * a person should read it, and a cause every stream would share is said once.
 */
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { runCli } from '../support/cli.js';
import { testPostgresUrl } from '../support/postgres.js';
import { expectedStreamRecords } from '../support/world-oracle.js';

const requestsTo = (sandbox: Sandbox) => Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);

/** A port nothing listens on: taken from the system, then let go. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** The summary's total line, its clauses joined again where it was broken to fit 100 columns. */
const totalOf = (text: string) => {
  const all = lines(text);
  const at = all.findIndex((l) => l.startsWith('read '));
  const parts = [all[at]];
  for (const l of all.slice(at + 1)) {
    if (!l.startsWith('  ')) break;
    parts.push(l.trim());
  }
  return parts.join(' ');
};

describe('the CLI fails in one clear line', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 30, seed: 1 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-messages-'));
    env = { ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: path.join(dir, 'home') };
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const db = (name: string) => `sqlite:${path.join(dir, name)}`;

  it('nothing listening at the base URL: exit 1, one line naming the URL and the cause', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await runCli(['sync', '--base-url', url, '--to', db('refused.db')], env);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(lines(r.err)).toEqual([
      `error: cannot reach ${url}: connection refused (nothing is listening there); check --base-url or ASHBY_BASE_URL`,
    ]);
    // Found before the run starts: the target was never opened.
    expect(fs.existsSync(path.join(dir, 'refused.db'))).toBe(false);
  });

  it('a name that does not resolve: exit 1, one line', async () => {
    const r = await runCli(['sync', '--base-url', 'http://ashby.invalid', '--to', db('dns.db')], env);
    expect(r.code).toBe(1);
    expect(lines(r.err)).toEqual([
      'error: cannot reach http://ashby.invalid: the name ashby.invalid does not resolve (DNS); check --base-url or ASHBY_BASE_URL',
    ]);
  });

  it('a wrong path such as /v1: exit 1 after at most two requests, one line', async () => {
    sandbox.resetStats();
    const url = `${sandbox.url}/v1`;
    const r = await runCli(['sync', '--base-url', url, '--to', db('v1.db')], env);
    expect(r.code).toBe(1);
    expect(lines(r.err)).toEqual([
      `error: ${url} has no Ashby API at that path: POST ${url}/apiKey.info answered HTTP 404; the base URL is the server alone (Ashby's is https://api.ashbyhq.com, without /v1)`,
    ]);
    expect(requestsTo(sandbox)).toBeLessThanOrEqual(2);
  });

  it('a wrong key: exit 1, one message and not a row per stream, the key never shown', async () => {
    sandbox.resetStats();
    const r = await runCli(['sync', '--base-url', sandbox.url, '--to', db('key.db')], {
      ...env,
      ASHBY_API_KEY: 'not-a-real-key-123456',
    });
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(lines(r.err)).toEqual([
      `error: Ashby at ${sandbox.url} refused the API key: the key is wrong or deactivated (HTTP 403) — the server said: "The API key is not valid"; check the key under Admin > Integrations > API Keys`,
    ]);
    expect(requestsTo(sandbox)).toBe(1);
  });

  it('a stream typo: exit 2 with "did you mean"', async () => {
    const one = await runCli(['sync', '--base-url', sandbox.url, '--streams', 'candidate'], env);
    expect(one.code).toBe(2);
    expect(lines(one.err)).toEqual([
      'error: unknown stream: candidate; did you mean candidates? (run `ashpipe streams` for the list)',
    ]);
    const two = await runCli(
      ['sync', '--base-url', sandbox.url, '--exclude-streams', 'jobz,nothing_like_it'],
      env,
    );
    expect(two.code).toBe(2);
    expect(lines(two.err)).toEqual([
      'error: unknown streams: jobz, nothing_like_it; did you mean jobs for jobz? (run `ashpipe streams` for the list)',
    ]);
  });

  it('--to ./out.db is SQLite; a bare path of no known kind is a usage error', async () => {
    const file = path.join(dir, 'bare.sqlite3');
    const r = await runCli(['sync', '--base-url', sandbox.url, '--to', file, '--streams', 'jobs'], env);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(file).subarray(0, 15).toString()).toBe('SQLite format 3');
    expect(r.out).toContain(`data in sqlite:${file}`);
    const bare = path.join(dir, 'no-extension');
    const unknown = await runCli(['sync', '--base-url', sandbox.url, '--to', bare], env);
    expect(unknown.code).toBe(2);
    expect(lines(unknown.err)).toEqual([
      `error: --to ${bare}: cannot tell the kind of target; write sqlite:${bare}, jsonl:${bare}, or postgres://USER@HOST/DB (a bare path ending in .db, .sqlite, .sqlite3 is SQLite, a directory is JSONL)`,
    ]);
    expect(fs.existsSync(bare)).toBe(false);
  });

  it('--to postgres://…/missing_db is a usage error (exit 2)', async () => {
    const url = testPostgresUrl('the missing database message');
    if (!url) return;
    const missing = new URL(url);
    missing.pathname = '/ashpipe_no_such_database';
    const r = await runCli(
      ['sync', '--base-url', sandbox.url, '--to', missing.toString(), '--streams', 'jobs'],
      env,
    );
    expect(r.code).toBe(2);
    expect(lines(r.err)).toEqual([
      `error: --to ${missing.protocol}//${missing.username ? `${missing.username}@` : ''}${missing.host}/ashpipe_no_such_database: the database does not exist; create it first (createdb) or name another`,
    ]);
  });

  it('quarantine export without --out is a usage error (exit 2)', async () => {
    const r = await runCli(['quarantine', 'export'], env);
    expect(r.code).toBe(2);
    expect(r.err).toContain("error: required option '--out <file>' not specified");
  });

  it('a run with no change says "read N, changed 0" and "1 request"', async () => {
    const target = db('words.db');
    const args = ['sync', '--base-url', sandbox.url, '--to', target, '--streams', 'jobs'];
    const first = await runCli(args, env);
    expect(first.code).toBe(0);
    const jobs = expectedStreamRecords(sandbox, 'jobs').length;
    expect(totalOf(first.out)).toMatch(
      new RegExp(
        `^read ${jobs}, changed ${jobs} \\(${jobs} inserted, 0 updated, 0 deleted\\) in \\S+; 1 request, 0 retries, 0 rate-limited; data in ${target}$`,
      ),
    );
    const second = await runCli(args, env);
    expect(totalOf(second.out)).toMatch(
      /^read 0, changed 0 \(0 inserted, 0 updated, 0 deleted\) in \S+; 1 request, 0 retries, 0 rate-limited; /,
    );
  });

  it('the summary fits 100 columns by default; --wide shows every column', async () => {
    const target = db('wide.db');
    const compact = await runCli(['sync', '--base-url', sandbox.url, '--to', target], env);
    expect(compact.code).toBe(0);
    for (const l of lines(compact.out)) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines(compact.out)[0]).toMatch(
      /^stream\s+status\s+mode\s+read\s+inserted\s+updated\s+deleted\s+time$/,
    );
    const wide = await runCli(['sync', '--base-url', sandbox.url, '--to', target, '--wide'], env);
    expect(lines(wide.out)[0]).toMatch(
      /^stream\s+status\s+mode\s+read\s+inserted\s+updated\s+deleted\s+unchanged\s+pages\s+retries\s+429s\s+time\s+why$/,
    );
  });

  it('`streams` fits 100 columns', async () => {
    const r = await runCli(['streams'], env);
    expect(r.code).toBe(0);
    for (const l of lines(r.out)) expect(l.length).toBeLessThanOrEqual(100);
    expect(r.out).toMatch(/^candidates\s+incremental\s+Candidates: Read\s*$/m);
  });
});

describe('push: a CSV header that cannot map is one error up front', () => {
  let sandbox: Sandbox;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 10, seed: 2 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-header-'));
    env = { ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: path.join(dir, 'home') };
  });
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fullName,email for candidate.create: exit 2, the expected columns, nothing sent or quarantined', async () => {
    const csv = path.join(dir, 'people.csv');
    fs.writeFileSync(csv, 'fullName,email\nAda Lovelace,ada@example.com\nGrace Hopper,grace@example.com\n');
    sandbox.resetStats();
    const r = await runCli(
      ['push', '--base-url', sandbox.url, '--endpoint', 'candidate.create', '--input', csv],
      env,
    );
    expect(r.code).toBe(2);
    expect(lines(r.err)).toEqual([
      `error: --input ${csv}: the header cannot map to candidate.create: no column for the required name; candidate.create has no field "fullName". Expected columns: name (required), email, phoneNumber, linkedInUrl, githubUrl, website, alternateEmailAddresses, sourceId, creditedToUserId, location, createdAt. Rename the columns, or map them with --map FILE, e.g. {"columns": {"fullName": "name"}}; nothing was sent.`,
    ]);
    expect(requestsTo(sandbox)).toBe(0);
    const quarantine = await runCli(['quarantine', 'list', '--json'], env);
    expect(JSON.parse(quarantine.out)).toEqual([]);

    // The mapping the message suggests makes the same file go through.
    const map = path.join(dir, 'people.map.json');
    fs.writeFileSync(map, JSON.stringify({ columns: { fullName: 'name' } }));
    const mapped = await runCli(
      ['push', '--base-url', sandbox.url, '--endpoint', 'candidate.create', '--input', csv, '--map', map],
      env,
    );
    expect(mapped.code).toBe(0);
    expect(mapped.out.trim()).toBe(
      'candidate.create: 2 records — 2 created, 0 updated, 0 skipped (already in Ashby), 0 skipped (done in an earlier run), 0 quarantined, 0 failed',
    );
  });

  it('a column close to a field name gets "did you mean"', async () => {
    const csv = path.join(dir, 'typo.csv');
    fs.writeFileSync(csv, 'name,emial\nAda,ada@example.com\n');
    const r = await runCli(
      ['push', '--base-url', sandbox.url, '--endpoint', 'candidate.create', '--input', csv],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('candidate.create has no field "emial" (did you mean email?)');
    expect(r.err).toContain('e.g. {"columns": {"emial": "email"}}');
  });

  it('a dry run says "would be quarantined", a single record "1 record"', async () => {
    const csv = path.join(dir, 'bad-email.csv');
    fs.writeFileSync(csv, 'name,email\nAda,not-an-email\n');
    const r = await runCli(
      ['push', '--base-url', sandbox.url, '--endpoint', 'candidate.create', '--input', csv, '--dry-run'],
      env,
    );
    expect(r.code).toBe(3);
    expect(lines(r.err)).toContain(
      // The value of a personal field is masked in the reason (see docs/privacy.md).
      'row 1: would be quarantined — invalid_record: email: not a valid email address: "[removed]"',
    );
    expect(r.out.trim()).toBe(
      'dry run of candidate.create: 1 record — 0 would be sent, 0 created, 0 updated, 0 skipped (already in Ashby), 0 skipped (done in an earlier run), 1 would be quarantined, 0 failed',
    );
  });

  it('`push --help` documents --map with examples', async () => {
    const r = await runCli(['push', '--help'], env);
    expect(r.code).toBe(0);
    expect(r.out).toContain('--map FILE, a JSON object:');
    expect(r.out).toContain('{"columns": {"fullName": "name"}}');
  });
});
