import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { AshbyClient } from '../../src/ashby/client.js';
import { resolveAshbyAccess } from '../../src/cli/key-options.js';
import { Output } from '../../src/cli/output.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { verifyKey } from '../../src/vault/verify.js';
import { captureStreams, runCli } from '../support/cli.js';
import { filesUnder, makeTempHome, removeAll } from './helpers.js';

const cleanup: string[] = [];
afterEach(() => removeAll(cleanup));

const canary = `canary-${randomBytes(12).toString('hex')}`;
const canary2 = `canary-${randomBytes(12).toString('hex')}`;
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    port: 0,
    scale: 60,
    keys: [
      { key: 'no-scopes-key', title: 'Nothing', scopes: [], confidential: false },
      {
        key: 'probe-only-key',
        scopes: ['candidatesRead', 'jobsRead', 'organizationRead'],
        confidential: true,
      },
      { key: canary, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true },
      { key: canary2, title: 'Canary 2', scopes: [...ALL_SCOPES], confidential: true },
      { key: 'deactivated-key', scopes: [...ALL_SCOPES], confidential: false, deactivated: true },
    ],
  });
});
afterAll(async () => {
  await sandbox?.close();
});

const client = (apiKey: string) => new AshbyClient({ apiKey, baseUrl: sandbox.url, retry: { limit: 2 } });
const jobsVisible = (apiKey: string) =>
  sandbox.records('job.list', { apiKey }) as Array<{ confidential?: boolean }>;

const run = (argv: string[], env: NodeJS.ProcessEnv, stdin?: string) => runCli(argv, env, stdin);

describe('verifying keys against the sandbox', () => {
  it('sandbox-full: every probed module readable, confidential jobs seen when there are any', async () => {
    const v = await verifyKey(client('sandbox-full'));
    expect(v.status).toBe('valid');
    for (const p of v.permissions.filter((p) => p.module !== 'Reports'))
      expect(p.read, p.module).toBe('allowed');
    const hasConfidential = jobsVisible('sandbox-full')
      .slice(0, 300)
      .some((j) => j.confidential === true);
    expect(v.confidential).toBe(hasConfidential ? 'yes' : 'unknown');
    expect(v.warnings.join('\n')).not.toMatch(/will fail/);
  });

  it('sandbox-read: reads allowed, push operations flagged, no confidential access claimed', async () => {
    const v = await verifyKey(client('sandbox-read'));
    expect(v.status).toBe('valid');
    expect(v.permissions.find((p) => p.module === 'Candidates')?.read).toBe('allowed');
    expect(v.permissions.find((p) => p.module === 'Candidates')?.write).not.toBe('allowed');
    expect(v.confidential).not.toBe('yes');
    expect(v.warnings.join('\n')).toMatch(
      /(will|may) fail: .*Candidates: Write \(candidatesWrite\).*: Create Candidate \(candidate\.create\)/,
    );
  });

  it('a key without scopes: authenticated, but every module missing', async () => {
    const v = await verifyKey(client('no-scopes-key'));
    expect(v.status).toBe('valid');
    for (const p of v.permissions.filter((p) => p.module !== 'Reports'))
      expect(p.read, p.module).toBe('missing');
    expect(v.warnings.join('\n')).toMatch(/may read no module/);
  });

  it('without API Keys: Read, probes each module and leaves writes unknown', async () => {
    const v = await verifyKey(client('probe-only-key'));
    expect(v.status).toBe('valid');
    expect(v.title).toBeUndefined();
    const read = Object.fromEntries(v.permissions.map((p) => [p.module, p.read]));
    expect(read).toMatchObject({
      Candidates: 'allowed',
      Jobs: 'allowed',
      Organization: 'allowed',
      Interviews: 'missing',
      Offers: 'missing',
      'Hiring Process': 'missing',
      'API Keys': 'missing',
      Approvals: 'missing',
      Reports: 'unknown',
    });
    expect(v.permissions.every((p) => p.write === 'unknown')).toBe(true);
    const hasConfidential = jobsVisible('probe-only-key')
      .slice(0, 300)
      .some((j) => j.confidential === true);
    expect(v.confidential).toBe(hasConfidential ? 'yes' : 'unknown');
    const text = v.warnings.join('\n');
    expect(text).toMatch(/may fail: Jobs: Write \(jobsWrite\).*: Create Job \(job\.create\)/);
    expect(text).toMatch(/No read access to Interviews, Offers, Hiring Process, API Keys, Approvals/);
  });

  it('refuses to save a wrong or deactivated key unless --no-verify', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup), ASHBY_BASE_URL: sandbox.url };
    for (const key of ['not-a-key-at-all', 'deactivated-key']) {
      const r = await run(['credentials', 'add', '--name', 'bad', '--api-key-stdin'], env, key);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/credential "bad" not saved: Ashby refused the key/);
    }
    expect((await run(['credentials', 'list', '--json'], env)).out).toContain('"credentials": []');
    const forced = await run(
      ['credentials', 'add', '--name', 'bad', '--api-key-stdin', '--no-verify'],
      env,
      'not-a-key-at-all',
    );
    expect(forced.code, forced.err).toBe(0);
    const test = await run(['credentials', 'test', 'bad', '--json'], env);
    expect(test.code).toBe(1);
    expect(JSON.parse(test.out)).toMatchObject({ status: 'invalid' });
  });

  it('rotate keeps the id and re-verifies', async () => {
    const env = { ASHPIPE_HOME: makeTempHome(cleanup), ASHBY_BASE_URL: sandbox.url };
    const add = await run(
      ['credentials', 'add', '--name', 'sb', '--api-key-stdin', '--json'],
      env,
      'sandbox-read',
    );
    expect(add.code, add.err).toBe(0);
    const before = JSON.parse(add.out);
    expect(before.status).toBe('verified');
    const rotate = await run(
      ['credentials', 'rotate', 'sb', '--api-key-stdin', '--json'],
      env,
      'sandbox-full',
    );
    expect(rotate.code, rotate.err).toBe(0);
    const after = JSON.parse(rotate.out);
    expect(after.id).toBe(before.id);
    expect(after.maskedKey).toBe('••••full');
    const refused = await run(['credentials', 'rotate', 'sb', '--api-key-stdin'], env, 'not-a-key-at-all');
    expect(refused.code).toBe(1);
    expect(JSON.parse((await run(['credentials', 'show', 'sb', '--json'], env)).out).maskedKey).toBe(
      '••••full',
    );
  });
});

describe('canary: the key never leaks', () => {
  it('appears in no output and no file after every credentials command', async () => {
    const home = makeTempHome(cleanup);
    const env = { ASHPIPE_HOME: home, ASHBY_BASE_URL: sandbox.url, CANARY_KEY: canary2 };
    const results = [
      await run(
        ['credentials', 'add', '--name', 'canary', '--description', 'leak test', '--api-key-stdin'],
        env,
        `${canary}\n`,
      ),
      await run(['credentials', 'list'], env),
      await run(['credentials', 'list', '--json'], env),
      await run(['credentials', 'show', 'canary'], env),
      await run(['credentials', 'show', 'canary', '--json'], env),
      await run(['credentials', 'test', 'canary'], env),
      await run(['credentials', 'test', 'canary', '--json'], env),
      await run(['credentials', 'edit', 'canary', '--description', 'still a leak test'], env),
      await run(['credentials', 'rotate', 'canary', '--api-key-env', 'CANARY_KEY', '--json'], env),
      await run(['credentials', 'audit'], env),
      await run(['credentials', 'audit', 'canary', '--json'], env),
    ];
    const io = captureStreams();
    const access = await resolveAshbyAccess(
      {
        io: io.io,
        env,
        stdin: Readable.from([]),
        output: (j) => new Output(io.io, j),
        setExitCode: () => {},
      },
      { credential: 'canary' },
      'sync',
    );
    expect(access.apiKey).toBe(canary2);
    results.push(await run(['credentials', 'delete', 'canary', '--yes'], env));
    results.push(await run(['credentials', 'audit', 'canary'], env));

    for (const [i, r] of results.entries()) expect(r.code, `command ${i}: ${r.err}`).toBe(0);
    const forms = [canary, canary2].flatMap((k) => [k, Buffer.from(`${k}:`).toString('base64')]);
    for (const r of [...results, { out: io.out, err: io.err }]) {
      for (const form of forms) expect(r.out + r.err).not.toContain(form);
    }
    const files = filesUnder(home);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      for (const form of forms)
        expect(bytes.includes(Buffer.from(form)), `${file} contains the key`).toBe(false);
      expect(fs.statSync(file).mode & 0o777, file).toBe(0o600);
    }
  });
});
