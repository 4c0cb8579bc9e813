/**
 * The canary test: a recognisable API key goes through every command that touches a key, a real sync into
 * every sink, a push, the quarantine and the REST API; afterwards no spelling of it may be found in any
 * output, response, log line, file of the home directory or sink.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { Logger } from '../../src/util/logger.js';
import { clearSecrets } from '../../src/util/redact.js';
import { runCli } from '../support/cli.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';

const hex = () => randomBytes(12).toString('hex');
/** The key under watch, then the key it is rotated to, then a key Ashby refuses (deactivated). */
const CANARY = `canary-${hex()}`;
const CANARY_ROTATED = `canary-${hex()}`;
const CANARY_DEACTIVATED = `canary-${hex()}`;
const CANARIES = [CANARY, CANARY_ROTATED, CANARY_DEACTIVATED];

/** Every spelling a key can leak in: plain, inside Basic credentials, URL-encoded. */
function spellings(key: string): string[] {
  return [key, Buffer.from(`${key}:`).toString('base64'), encodeURIComponent(key)];
}
const FORBIDDEN = CANARIES.flatMap(spellings);

const pgUrl = testPostgresUrl('the canary check of the PostgreSQL sink');
const PG_SCHEMA = testSchemaName();
const STEP_TIMEOUT = 120_000;

let sandbox: Sandbox;
/** A server at the wrong base URL that echoes the key it receives back in its error (a bad proxy). */
let wrongServer: http.Server;
let wrongUrl: string;
let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;

/** Everything the product printed or answered, labelled, to scan at the end. */
const seen: Array<{ label: string; text: string }> = [];
/** Files found to hold a canary at any point (the WAL comes and goes, so homes are scanned often). */
const leakedFiles = new Set<string>();

function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(root, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

function leaks(text: string | Buffer): string[] {
  return FORBIDDEN.filter((f) => text.includes(f));
}

/** Scans every file of the home and the sinks; SQLite keeps text as UTF-8, so raw bytes show a key. */
function scanFiles(): void {
  for (const file of filesUnder(dir)) {
    if (leaks(fs.readFileSync(file)).length > 0) leakedFiles.add(path.relative(dir, file));
  }
}

async function cli(label: string, argv: string[], stdin?: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const result = await runCli(argv, { ...env, ...extraEnv }, ...(stdin === undefined ? [] : [stdin]));
  seen.push({ label: `${label} stdout`, text: result.out }, { label: `${label} stderr`, text: result.err });
  scanFiles();
  return result;
}

function logLines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  clearSecrets();
  sandbox = await startSandbox({
    scale: 20,
    keys: [
      { key: CANARY, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true },
      { key: CANARY_ROTATED, title: 'Canary rotated', scopes: [...ALL_SCOPES], confidential: true },
      {
        key: CANARY_DEACTIVATED,
        title: 'Canary deactivated',
        scopes: [...ALL_SCOPES],
        confidential: true,
        deactivated: true,
      },
    ],
  });
  wrongServer = http.createServer((req, res) => {
    const basic = (req.headers.authorization ?? '').replace(/^Basic\s+/i, '');
    const key = Buffer.from(basic, 'base64').toString('utf8').replace(/:$/, '');
    req.resume();
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        success: false,
        errors: ['unauthenticated'],
        errorInfo: {
          code: 'unauthenticated',
          message: `unknown key ${key} (${basic})`,
          requestId: 'req-wrong-1',
        },
      }),
    );
  });
  await new Promise<void>((resolve) => wrongServer.listen(0, '127.0.0.1', resolve));
  wrongUrl = `http://127.0.0.1:${(wrongServer.address() as AddressInfo).port}`;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  home = path.join(dir, 'home');
  env = { ASHPIPE_HOME: home, ASHPIPE_LOG_LEVEL: 'debug' };
});

afterAll(async () => {
  await sandbox?.close();
  await new Promise<void>((resolve) => (wrongServer ? wrongServer.close(() => resolve()) : resolve()));
  if (pgUrl) {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
    await client.end();
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe.sequential('the API key never leaves the vault in plaintext', () => {
  it(
    'credentials: add, list, show, test, rotate and back, edit, audit',
    async () => {
      const add = await cli(
        'credentials add',
        ['credentials', 'add', '--name', 'canary', '--base-url', sandbox.url, '--api-key-stdin', '--json'],
        `${CANARY}\n`,
      );
      expect(add.code, add.err).toBe(0);
      expect(JSON.parse(add.out)).toMatchObject({ name: 'canary', status: 'verified' });
      for (const argv of [
        ['credentials', 'list'],
        ['credentials', 'list', '--json'],
        ['credentials', 'show', 'canary'],
        ['credentials', 'show', 'canary', '--json'],
        ['credentials', 'test', 'canary'],
        ['credentials', 'test', 'canary', '--json'],
      ]) {
        const r = await cli(argv.join(' '), argv);
        expect(r.code, r.err).toBe(0);
      }
      const rotate = await cli(
        'credentials rotate',
        ['credentials', 'rotate', 'canary', '--api-key-stdin', '--json'],
        `${CANARY_ROTATED}\n`,
      );
      expect(rotate.code, rotate.err).toBe(0);
      expect(JSON.parse(rotate.out).maskedKey).toBe(`••••${CANARY_ROTATED.slice(-4)}`);
      const back = await cli(
        'credentials rotate back',
        ['credentials', 'rotate', 'canary', '--api-key-stdin'],
        `${CANARY}\n`,
      );
      expect(back.code, back.err).toBe(0);
      // A rotation to a key Ashby refuses is itself refused, and says why without the key.
      const refused = await cli(
        'credentials rotate refused',
        ['credentials', 'rotate', 'canary', '--api-key-stdin'],
        `${CANARY_DEACTIVATED}\n`,
      );
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/refused the key/);
      const edit = await cli('credentials edit', [
        'credentials',
        'edit',
        'canary',
        '--description',
        'nightly sync',
      ]);
      expect(edit.code, edit.err).toBe(0);
      for (const argv of [
        ['credentials', 'audit'],
        ['credentials', 'audit', 'canary', '--json'],
      ]) {
        const r = await cli(argv.join(' '), argv);
        expect(r.code, r.err).toBe(0);
      }
    },
    STEP_TIMEOUT,
  );

  it(
    'sync into SQLite, JSONL and PostgreSQL with the stored key and with the environment variable',
    async () => {
      const targets = [`sqlite:${path.join(dir, 'sink.db')}`, `jsonl:${path.join(dir, 'jsonl')}`];
      if (pgUrl) {
        const url = new URL(pgUrl);
        url.searchParams.set('schema', PG_SCHEMA);
        targets.push(url.toString());
      }
      for (const target of targets) {
        const r = await cli(`sync ${target}`, ['sync', '--credential', 'canary', '--to', target, '--json']);
        expect(r.code, r.err).toBe(0);
        expect(JSON.parse(r.out).totals.records).toBeGreaterThan(0);
      }
      const customLog = path.join(dir, 'custom-logs', 'sync.log');
      const fromEnv = await cli(
        'sync --api-key-env',
        [
          'sync',
          '--api-key-env',
          'CANARY_KEY',
          '--base-url',
          sandbox.url,
          '--to',
          `sqlite:${path.join(dir, 'env.db')}`,
          '--streams',
          'jobs,candidates',
          '--log-file',
          customLog,
        ],
        undefined,
        { CANARY_KEY: CANARY },
      );
      expect(fromEnv.code, fromEnv.err).toBe(0);
      // --log-file takes the run log elsewhere, with the same permissions.
      expect(fs.statSync(customLog).mode & 0o777).toBe(0o600);
      expect(logLines(customLog).some((l) => l.msg === 'sync finished' && l.exitCode === 0)).toBe(true);
    },
    STEP_TIMEOUT,
  );

  it(
    'failing syncs: a deactivated key, a server that echoes the key, Ashby errors and retries',
    async () => {
      const deactivated = await cli(
        'sync deactivated',
        [
          'sync',
          '--api-key-env',
          'CANARY_KEY',
          '--base-url',
          sandbox.url,
          '--to',
          `sqlite:${path.join(dir, 'failed.db')}`,
          '--json',
        ],
        undefined,
        { CANARY_KEY: CANARY_DEACTIVATED },
      );
      expect(deactivated.code).toBe(1);
      expect(JSON.parse(deactivated.out).fatal.message).toMatch(/HTTP 403/);

      const wrong = await cli('sync wrong base URL', [
        'sync',
        '--credential',
        'canary',
        '--base-url',
        wrongUrl,
        '--to',
        `sqlite:${path.join(dir, 'failed.db')}`,
        '--streams',
        'jobs',
      ]);
      expect(wrong.code).toBe(1);
      // The echoed key reached stderr only masked.
      expect(wrong.err).toContain('[REDACTED]');

      sandbox.faults.set({
        failEndpoints: {
          'job.list': { status: 500, times: 1 },
          'candidate.list': { status: 200, code: 'invalid_input' },
        },
      });
      try {
        const faulty = await cli('sync with faults', [
          'sync',
          '--credential',
          'canary',
          '--to',
          `sqlite:${path.join(dir, 'faulty.db')}`,
          '--streams',
          'jobs,candidates',
          '--json',
        ]);
        expect(faulty.code).toBe(3);
        const streams = JSON.parse(faulty.out).streams as Array<{ stream: string; status: string }>;
        expect(streams.find((s) => s.stream === 'candidates')?.status).toBe('failed');
        expect(streams.find((s) => s.stream === 'jobs')?.status).toBe('ok');
      } finally {
        sandbox.faults.reset();
      }
    },
    STEP_TIMEOUT,
  );

  it(
    'push one good and one bad row with --results, then list, export and replay the quarantine',
    async () => {
      const input = path.join(dir, 'rows.csv');
      fs.writeFileSync(
        input,
        `name,email\r\nAda Canary,ada.${hex()}@example.com\r\nBad Row,not-an-email\r\n`,
      );
      const results = path.join(dir, 'results.jsonl');
      const push = await cli('push', [
        'push',
        '--credential',
        'canary',
        '--endpoint',
        'candidate.create',
        '--input',
        input,
        '--results',
        results,
        '--json',
      ]);
      expect(push.code, push.err).toBe(3);
      expect(JSON.parse(push.out).counts).toMatchObject({ created: 1, quarantined: 1 });
      expect(fs.readFileSync(results, 'utf8').trim().split('\n')).toHaveLength(2);

      const list = await cli('quarantine list', ['quarantine', 'list', '--json']);
      expect(list.code, list.err).toBe(0);
      const entries = JSON.parse(list.out) as Array<{ id: number }>;
      expect(entries).toHaveLength(1);
      const text = await cli('quarantine list text', ['quarantine', 'list']);
      expect(text.code, text.err).toBe(0);
      const exported = path.join(dir, 'quarantine.jsonl');
      const exp = await cli('quarantine export', ['quarantine', 'export', '--out', exported]);
      expect(exp.code, exp.err).toBe(0);
      const replay = await cli('quarantine replay', [
        'quarantine',
        'replay',
        String(entries[0]?.id),
        '--credential',
        'canary',
        '--json',
      ]);
      // Still not an email: quarantined again.
      expect(replay.code).toBe(3);
    },
    STEP_TIMEOUT,
  );

  it(
    'the REST API: add the key, probe it, run a source flow, read every response',
    async () => {
      const serverLog = path.join(home, 'logs', 'serve.log');
      let server: RunningServer | undefined;
      const call = async (method: string, p: string, headers: Record<string, string>, body?: unknown) => {
        if (!server) throw new Error('no server');
        const res = await fetch(`${server.url}${p}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        seen.push({
          label: `${method} ${p}`,
          text: `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`,
        });
        scanFiles();
        return { status: res.status, headers: res.headers, json: () => JSON.parse(text) };
      };
      try {
        server = await startServer({
          home,
          env: { ...env },
          port: 0,
          logger: new Logger({ level: 'debug', file: serverLog }),
          serviceOptions: { baseUrl: sandbox.url },
          dataDirs: [dir],
        });
        const setup = await call(
          'POST',
          '/api/v1/session/setup',
          { 'content-type': 'application/json' },
          { password: 'correct horse battery staple' },
        );
        expect(setup.status).toBeLessThan(300);
        const headers = {
          cookie: (setup.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
          'x-csrf-token': setup.json().csrfToken as string,
          'content-type': 'application/json',
        };
        const created = await call('POST', '/api/v1/credentials', headers, {
          name: 'console-canary',
          apiKey: CANARY,
        });
        expect(created.status).toBe(201);
        const credential = created.json().credential as { id: string; status: string };
        expect(credential.status).toBe('verified');
        // The same key again (a name clash) and a key Ashby refuses: errors must not echo the key either.
        await call('POST', '/api/v1/credentials', headers, { name: 'console-canary', apiKey: CANARY });
        const rejected = await call('POST', '/api/v1/credentials', headers, {
          name: 'console-refused',
          apiKey: CANARY_DEACTIVATED,
        });
        expect(rejected.status).toBeGreaterThanOrEqual(400);
        const probe = await call('POST', `/api/v1/credentials/${credential.id}/probe`, headers);
        expect(probe.status).toBe(200);
        await call('POST', `/api/v1/credentials/${credential.id}/probe/sample`, headers, {
          stream: 'jobs',
        });
        const flow = await call('POST', '/api/v1/flows', headers, {
          kind: 'source',
          name: 'Canary sync',
          credentialId: credential.id,
          streams: ['jobs', 'candidates'],
          target: { type: 'sqlite', path: path.join(dir, 'server-sink.db') },
        });
        expect(flow.status).toBe(201);
        const flowId = flow.json().flow.id as string;
        const started = await call('POST', `/api/v1/flows/${flowId}/run`, headers);
        expect(started.status).toBe(202);
        const runId = started.json().run.id as string;
        await server.deps.scheduler.waitFor(runId);
        const run = await call('GET', `/api/v1/runs/${runId}`, headers);
        expect(run.json().run.status).toBe('succeeded');
        for (const p of [
          '/api/v1/credentials',
          `/api/v1/credentials/${credential.id}`,
          '/api/v1/flows',
          `/api/v1/flows/${flowId}`,
          '/api/v1/runs',
          '/api/v1/quarantine',
          '/api/v1/openapi.json',
        ]) {
          await call('GET', p, headers);
        }
      } finally {
        await server?.close();
      }
      scanFiles();
      expect(fs.statSync(serverLog).size).toBeGreaterThan(0);
    },
    STEP_TIMEOUT,
  );

  it(
    'credentials delete at the end',
    async () => {
      const del = await cli('credentials delete', ['credentials', 'delete', 'canary', '--yes', '--json']);
      expect(del.code, del.err).toBe(0);
      const audit = await cli('credentials audit after delete', ['credentials', 'audit', '--json']);
      expect(audit.code, audit.err).toBe(0);
    },
    STEP_TIMEOUT,
  );

  it('the run log exists, is private, and records requestIds, retries and outcomes', () => {
    const logDir = path.join(home, 'logs');
    const logFile = path.join(logDir, 'ashpipe.log');
    expect(fs.statSync(logDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(logFile).mode & 0o777).toBe(0o600);
    const lines = logLines(logFile);
    expect(lines.length).toBeGreaterThan(0);
    const commands = new Set(lines.map((l) => l.command));
    for (const c of [
      'credentials add',
      'credentials test',
      'credentials rotate',
      'sync',
      'push',
      'quarantine replay',
    ]) {
      expect(commands, c).toContain(c);
    }
    expect(lines.some((l) => typeof l.requestId === 'string' && l.requestId !== '')).toBe(true);
    // Debug level: every answer of Ashby, with status and duration, never a header or a body.
    const responses = lines.filter((l) => l.msg === 'ashby response');
    expect(responses.length).toBeGreaterThan(0);
    expect(responses.every((l) => typeof l.httpStatus === 'number' && typeof l.durationMs === 'number')).toBe(
      true,
    );
    expect(lines.some((l) => l.msg === 'retrying' && l.endpoint === 'job.list')).toBe(true);
    expect(
      lines.some(
        (l) =>
          l.msg === 'stream finished' &&
          l.stream === 'candidates' &&
          l.status === 'failed' &&
          typeof (l.error as { requestId?: unknown } | undefined)?.requestId === 'string',
      ),
    ).toBe(true);
    expect(
      lines.some((l) => l.msg === 'sync failed' || (l.msg === 'sync finished' && l.exitCode === 1)),
    ).toBe(true);
    expect(lines.some((l) => l.msg === 'record quarantined')).toBe(true);
    const text = fs.readFileSync(logFile, 'utf8');
    expect(text).not.toMatch(/authorization|Basic [A-Za-z0-9+/=]{8,}/i);
  });

  it.skipIf(!pgUrl)('no PostgreSQL table holds the key', async () => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
        [PG_SCHEMA],
      );
      expect(tables.rows.length).toBeGreaterThan(0);
      for (const { table_name } of tables.rows) {
        // A row cast to text holds every column: text, jsonb, numbers and timestamps alike.
        const rows = await client.query<{ row: string }>(
          `SELECT t::text AS row FROM "${PG_SCHEMA}"."${table_name}" t`,
        );
        const found = rows.rows.filter((r) => leaks(r.row).length > 0);
        expect(found, `${PG_SCHEMA}.${table_name}`).toEqual([]);
      }
    } finally {
      await client.end();
    }
  });

  it('no output, response, log or file holds the key in any spelling', () => {
    scanFiles();
    expect(seen.length).toBeGreaterThan(30);
    const leaked = seen.filter((s) => leaks(s.text).length > 0).map((s) => s.label);
    expect(leaked).toEqual([]);
    expect([...leakedFiles]).toEqual([]);
    // The scan looked at what it should: the home with its vault and logs, and every sink.
    const scanned = filesUnder(dir).map((f) => path.relative(dir, f));
    expect(scanned).toEqual(
      expect.arrayContaining([
        path.join('home', 'control.db'),
        path.join('home', 'logs', 'ashpipe.log'),
        'sink.db',
        'env.db',
        'server-sink.db',
        'results.jsonl',
        'quarantine.jsonl',
      ]),
    );
    expect(scanned.some((f) => f.startsWith(`jsonl${path.sep}`))).toBe(true);
  });
});
