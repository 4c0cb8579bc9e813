/**
 * The server reads only what it should: the files of flows live inside the data directories, checked by
 * their real path when a flow is saved, tested, previewed and run. The table lists every way out that
 * was tried, and what a person may still do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/server/errors.js';
import { type PathPolicy, resolveFlowPath } from '../../src/server/paths.js';
import { runCli } from '../support/cli.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

/** A home with its data directory, a second data directory, and files around them to aim at. */
let root: string;
let home: string;
let data: string;
let other: string;
let outside: string;
let policy: PathPolicy;

beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-paths-')));
  home = path.join(root, 'home');
  data = path.join(home, 'data');
  other = path.join(root, 'imports');
  outside = path.join(root, 'outside');
  for (const d of [data, other, outside, path.join(root, 'data-evil')]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(home, 'control.db'), 'control store');
  fs.writeFileSync(path.join(home, 'master.key'), 'master key');
  fs.writeFileSync(path.join(outside, 'secret.csv'), 'name\nsecret\n');
  fs.writeFileSync(path.join(root, 'data-evil', 'x.csv'), 'name\nx\n');
  fs.writeFileSync(path.join(data, 'in.csv'), 'name\nin\n');
  fs.writeFileSync(path.join(other, 'b.csv'), 'name\nb\n');
  fs.mkdirSync(path.join(data, 'sub'));
  fs.symlinkSync(path.join(outside, 'secret.csv'), path.join(data, 'link-out.csv'));
  fs.symlinkSync(path.join(data, 'in.csv'), path.join(data, 'link-in.csv'));
  fs.symlinkSync(outside, path.join(data, 'dir-out'));
  fs.symlinkSync('/etc/passwd', path.join(data, 'passwd.csv'));
  fs.symlinkSync('/proc/self/environ', path.join(data, 'environ.csv'));
  fs.linkSync(path.join(outside, 'secret.csv'), path.join(data, 'hard-out.csv'));
  fs.linkSync(path.join(home, 'control.db'), path.join(data, 'hard-control.db'));
  fs.mkdirSync(path.join(data, 'export'));
  fs.symlinkSync(path.join(outside, 'secret.csv'), path.join(data, 'export', 'candidates.jsonl'));
  // A data directory reached through a link is compared by its real path.
  fs.symlinkSync(data, path.join(root, 'data-link'));
  policy = { dataDirs: [data, other], home };
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

type Use = Parameters<typeof resolveFlowPath>[3];
const allowed: Array<[string, () => string, Use, () => string]> = [
  [
    'a relative name, taken from the first data directory',
    () => 'in.csv',
    'input',
    () => path.join(data, 'in.csv'),
  ],
  [
    'an absolute path inside the data directory',
    () => path.join(data, 'in.csv'),
    'input',
    () => path.join(data, 'in.csv'),
  ],
  [
    'a file of the second data directory',
    () => path.join(other, 'b.csv'),
    'input',
    () => path.join(other, 'b.csv'),
  ],
  [
    'a file that does not exist yet (a new target)',
    () => 'new/ashby.db',
    'sqlite',
    () => path.join(data, 'new', 'ashby.db'),
  ],
  ['.. that stays inside', () => 'sub/../in.csv', 'input', () => path.join(data, 'in.csv')],
  [
    'a link to a file inside, read at its real path',
    () => 'link-in.csv',
    'input',
    () => path.join(data, 'in.csv'),
  ],
  [
    'a data directory named through a link',
    () => path.join(root, 'data-link', 'in.csv'),
    'input',
    () => path.join(data, 'in.csv'),
  ],
  ['a JSONL target directory inside', () => 'export-new', 'directory', () => path.join(data, 'export-new')],
];

const refused: Array<[string, () => string, Use, RegExp]> = [
  ['/etc/passwd', () => '/etc/passwd', 'input', /must be inside a data directory/],
  ['/proc/self/environ', () => '/proc/self/environ', 'input', /under \/proc, \/dev, \/sys/],
  ['/proc/1/environ through ..', () => '../../../../../../proc/1/environ', 'input', /under \/proc/],
  ['/dev/zero', () => '/dev/zero', 'input', /under \/proc, \/dev, \/sys/],
  ['/sys/kernel', () => '/sys/kernel/hostname', 'input', /under \/proc, \/dev, \/sys/],
  ['.. up to the control store', () => '../control.db', 'sqlite', /ashpipe's own control store/],
  [
    '.. up to the master key',
    () => 'sub/../../master.key',
    'input',
    /ashpipe's own control store or master key/,
  ],
  [
    'the control store by absolute path',
    () => path.join(home, 'control.db-wal'),
    'sqlite',
    /own control store/,
  ],
  [
    '.. out of the data directory',
    () => '../../outside/secret.csv',
    'input',
    /must be inside a data directory/,
  ],
  [
    'a sibling whose name starts like the data directory',
    () => path.join(root, 'data-evil', 'x.csv'),
    'input',
    /must be inside/,
  ],
  ['a link inside pointing out', () => 'link-out.csv', 'input', /must be inside a data directory/],
  ['a link inside pointing at /etc/passwd', () => 'passwd.csv', 'input', /must be inside a data directory/],
  ['a link inside pointing at /proc/self/environ', () => 'environ.csv', 'input', /under \/proc/],
  ['a linked directory leading out', () => 'dir-out/secret.csv', 'input', /must be inside a data directory/],
  ['a hard link to a file outside', () => 'hard-out.csv', 'input', /has 2 hard links/],
  ['a hard link to the control store', () => 'hard-control.db', 'sqlite', /own control store/],
  ['a SQLite URI', () => 'file:in.db?mode=ro', 'sqlite', /not a SQLite URI/],
  ['a SQLite URI to another file', () => 'file:/etc/passwd', 'sqlite', /not a SQLite URI/],
  ['an in-memory SQLite database', () => ':memory:', 'sqlite', /not a SQLite URI/],
  ['a SQLite path with URI parameters', () => 'in.db?mode=memory&cache=shared', 'sqlite', /not a SQLite URI/],
  ['a NUL byte', () => 'in.csv\u0000.txt', 'input', /NUL character/],
  ['a directory as an input file', () => 'sub', 'input', /is not a regular file/],
  ['a file as a JSONL directory', () => 'in.csv', 'directory', /is not a directory/],
];

describe('the path policy', () => {
  it.each(allowed)('allows %s', (_label, p, use, expected) => {
    expect(resolveFlowPath(policy, 'input.path', p(), use)).toBe(expected());
  });

  it.each(refused)('refuses %s', (_label, p, use, message) => {
    let error: unknown;
    try {
      resolveFlowPath(policy, 'input.path', p(), use);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/^input\.path /);
    expect((error as ValidationError).message).toMatch(message);
    expect((error as ValidationError).details).toEqual([{ path: 'input.path', message: expect.any(String) }]);
  });

  it('refuses the control store even when the data directory is the home itself', () => {
    const wide: PathPolicy = { dataDirs: [home], home };
    expect(() => resolveFlowPath(wide, 'target.path', 'control.db', 'sqlite')).toThrow(/own control store/);
    expect(() => resolveFlowPath(wide, 'input.path', 'master.key', 'input')).toThrow(/master key/);
  });
});

describe('flows through the API', () => {
  let h: Harness;
  let headers: Record<string, string>;
  let credentialId: string;
  beforeEach(async () => {
    h = await harness();
    headers = await signedInHeaders(h);
    const cred = await h.request('/api/v1/credentials', {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'paths', apiKey: 'paths-key-0001' }),
    });
    credentialId = (await cred.json().then(asJson)).credential.id;
    fs.writeFileSync(path.join(h.data, 'people.csv'), 'name,email\nAda,ada@example.com\n');
  });
  afterEach(async () => h.close());

  const post = (url: string, body: unknown) =>
    h.request(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const destination = (input: Record<string, unknown>) => ({
    kind: 'destination',
    name: 'Exfiltrate',
    credentialId,
    operation: 'candidate.create',
    input,
    mapping: {},
  });
  const source = (target: Record<string, unknown>) => ({
    kind: 'source',
    name: 'Overwrite',
    credentialId,
    streams: ['candidates'],
    target,
  });

  it('a dry run of /etc/passwd, /proc/self/environ or any SQLite database is refused before a byte is read', async () => {
    const attacks = [
      destination({ type: 'csv', path: '/etc/passwd' }),
      destination({ type: 'jsonl', path: '/proc/self/environ' }),
      destination({ type: 'json', path: `/proc/${process.pid}/environ` }),
      destination({ type: 'json', path: '/dev/zero' }),
      destination({ type: 'sql', database: 'sqlite:/var/lib/any.db', query: 'SELECT 1 AS name' }),
      destination({
        type: 'sql',
        database: `sqlite:${h.home}/control.db`,
        query: 'SELECT * FROM credentials',
      }),
      destination({ type: 'csv', path: `${h.home}/master.key` }),
    ];
    for (const body of attacks) {
      for (const url of ['/api/v1/flows/test?limit=5', '/api/v1/flows']) {
        const res = await post(url, body);
        expect(res.status, `${url} ${JSON.stringify(body.input)}`).toBe(422);
        const error = (await res.json().then(asJson)).error;
        expect(error.code).toBe('validation_failed');
        expect(error.details[0].path).toMatch(/^input\.(path|database)$/);
      }
    }
  });

  it('a sync target outside the data directory or on the control store is refused; one inside is saved', async () => {
    for (const target of [
      { type: 'sqlite', path: `${h.home}/control.db` },
      { type: 'sqlite', path: `${h.home}/control.db-wal` },
      { type: 'sqlite', path: '/tmp/ashby.db' },
      { type: 'jsonl', path: '/tmp' },
    ]) {
      const res = await post('/api/v1/flows', source(target));
      expect(res.status, JSON.stringify(target)).toBe(422);
      expect((await res.json().then(asJson)).error.details[0].path).toBe('target.path');
    }
    expect((await post('/api/v1/flows', source({ type: 'sqlite', path: 'ashby.db' }))).status).toBe(201);
    expect((await post('/api/v1/flows', source({ type: 'jsonl', path: 'export' }))).status).toBe(201);
  });

  it('a relative input path is read from the data directory', async () => {
    const res = await post('/api/v1/flows/test?limit=5', destination({ type: 'csv', path: 'people.csv' }));
    expect(res.status).toBe(200);
    const report = await res.json().then(asJson);
    expect(report.total).toBe(1);
  });

  it('checks again when a run starts: a flow saved before, or whose file became a link out since, fails its run', async () => {
    const cred = await h.deps.services.credentials.add({ name: 'later', apiKey: 'later-key-00001' });
    // Stored as an older version would have, without the check.
    const saved = await h.deps.store.createFlow({
      kind: 'destination',
      name: 'Saved before',
      credentialId: cred.id,
      operation: 'candidate.create',
      input: { type: 'csv', path: '/etc/passwd' },
      mapping: {},
      options: {},
    } as Parameters<typeof h.deps.store.createFlow>[0]);
    const first = await h.deps.scheduler.waitFor((await h.deps.scheduler.trigger(saved.id, 'manual')).id);
    expect(first?.status).toBe('failed');
    expect(first?.errors[0]?.message).toContain('refused to run flow "Saved before"');
    expect(first?.errors[0]?.message).toContain('must be inside a data directory');

    // Accepted when saved (nothing there yet), then the path became a link to the control store.
    const created = await post('/api/v1/flows', source({ type: 'sqlite', path: 'later.db' }));
    expect(created.status).toBe(201);
    const flowId = (await created.json().then(asJson)).flow.id as string;
    fs.symlinkSync(path.join(h.home, 'control.db'), path.join(h.data, 'later.db'));
    const run = await h.deps.scheduler.waitFor((await h.deps.scheduler.trigger(flowId, 'manual')).id);
    expect(run?.status).toBe('failed');
    expect(run?.errors[0]?.message).toContain('control store');
    // Neither run reached its engine.
    expect(h.engine.calls).toHaveLength(0);
  });

  it('the data preview refuses a flow whose target became a link out of the data directory', async () => {
    const created = await post('/api/v1/flows', source({ type: 'sqlite', path: 'preview.db' }));
    const flowId = (await created.json().then(asJson)).flow.id as string;
    fs.symlinkSync('/etc/passwd', path.join(h.data, 'preview.db'));
    const res = await h.request(`/api/v1/datasets/candidates/preview?flowId=${flowId}`, { headers });
    expect(res.status).toBe(422);
  });
});

describe('the CLI stays unrestricted on the user’s own files but never syncs into the control store', () => {
  it('sync --to sqlite:$ASHPIPE_HOME/control.db (or a link to it) exits 2 before anything is read', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-cli-'));
    try {
      fs.writeFileSync(path.join(home, 'control.db'), '');
      fs.symlinkSync(path.join(home, 'control.db'), path.join(home, '..', `${path.basename(home)}.db`));
      for (const to of [
        `sqlite:${home}/control.db`,
        `sqlite://${home}/control.db-wal`,
        `sqlite:${home}/master.key`,
        `sqlite:${path.join(home, '..', `${path.basename(home)}.db`)}`,
      ]) {
        const run = await runCli(['sync', '--to', to, '--base-url', 'http://127.0.0.1:9'], {
          ASHPIPE_HOME: home,
          ASHBY_API_KEY: 'unused-key-0001',
        });
        expect(run.code, to).toBe(2);
        expect(run.err).toContain("is ashpipe's own control store");
      }
    } finally {
      fs.rmSync(path.join(home, '..', `${path.basename(home)}.db`), { force: true });
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
