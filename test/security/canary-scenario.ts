/**
 * The canary scenario: a recognisable API key goes through every command that touches a key, a real sync
 * into every sink, a push, the quarantine and the REST API. In every section the key meets a place where
 * only redaction stops it: the sandbox (or a server at a wrong base URL) echoes the key and its
 * Authorization header back in an error message, which then travels into CLI output, the run log, the
 * control store, results files and REST answers.
 *
 * It runs twice. `canary.test.ts` runs it as shipped and requires that no spelling of the key is found in
 * any section's output, response, log line or file. `canary-unredacted.test.ts` runs it with the
 * redaction functions replaced by no-ops and requires that every section leaks: that is the proof that
 * each section meets the key where only redaction stops it, rather than passing because the key was never
 * emitted.
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
import { type FaultConfig, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { Logger } from '../../src/util/logger.js';
import { clearSecrets } from '../../src/util/redact.js';
import { runCli } from '../support/cli.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';

/** `redacted`: nothing may leak. `unredacted`: redaction is off, and every section must leak. */
export type CanaryMode = 'redacted' | 'unredacted';

const hex = () => randomBytes(12).toString('hex');
const STEP_TIMEOUT = 120_000;

/** Every spelling a key can leak in: plain, inside Basic credentials, URL-encoded. */
function spellings(key: string): string[] {
  return [key, Buffer.from(`${key}:`).toString('base64'), encodeURIComponent(key)];
}

function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(root, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

function logLines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Log files and results files only grow: a section is charged only with what it appended. */
const APPEND_ONLY = /\.(log|jsonl)$/;

export function canaryScenario(mode: CanaryMode): void {
  /** The key under watch, then the key it is rotated to, then a key Ashby refuses (deactivated). */
  const CANARY = `canary-${hex()}`;
  const CANARY_ROTATED = `canary-${hex()}`;
  const CANARY_DEACTIVATED = `canary-${hex()}`;
  const FORBIDDEN = [CANARY, CANARY_ROTATED, CANARY_DEACTIVATED].flatMap(spellings);
  const leaks = (text: string | Buffer) => FORBIDDEN.filter((f) => text.includes(f));

  const pgUrl = testPostgresUrl('the canary check of the PostgreSQL sink');
  const PG_SCHEMA = testSchemaName();

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

  /** What one section printed, answered and wrote, to charge it with its own leaks. */
  interface Section {
    name: string;
    outputs: Array<{ label: string; text: string }>;
    files: Set<string>;
    sizesAtStart: Map<string, number>;
    leakingAtStart: Set<string>;
  }
  let section: Section | undefined;

  /** Scans every file of the home and the sinks; SQLite keeps text as UTF-8, so raw bytes show a key. */
  function scanFiles(): void {
    for (const file of filesUnder(dir)) {
      const rel = path.relative(dir, file);
      const bytes = fs.readFileSync(file);
      if (leaks(bytes).length === 0) continue;
      leakedFiles.add(rel);
      if (!section) continue;
      if (APPEND_ONLY.test(file)) {
        const from = Math.min(section.sizesAtStart.get(rel) ?? 0, bytes.length);
        if (leaks(bytes.subarray(from)).length > 0) section.files.add(rel);
      } else if (!section.leakingAtStart.has(rel)) {
        section.files.add(rel);
      }
    }
  }

  function record(label: string, text: string): void {
    seen.push({ label, text });
    section?.outputs.push({ label, text });
  }

  async function cli(label: string, argv: string[], stdin?: string, extraEnv: NodeJS.ProcessEnv = {}) {
    const result = await runCli(argv, { ...env, ...extraEnv }, ...(stdin === undefined ? [] : [stdin]));
    record(`${label} stdout`, result.out);
    record(`${label} stderr`, result.err);
    scanFiles();
    return result;
  }

  /** Runs one section and holds it to the mode: no leak of its own, or (redaction off) at least one. */
  async function inSection(name: string, body: () => Promise<void>): Promise<void> {
    scanFiles();
    section = {
      name,
      outputs: [],
      files: new Set(),
      sizesAtStart: new Map(filesUnder(dir).map((f) => [path.relative(dir, f), fs.statSync(f).size])),
      leakingAtStart: new Set(leakedFiles),
    };
    try {
      await body();
      scanFiles();
      const found = [
        ...section.outputs.filter((o) => leaks(o.text).length > 0).map((o) => o.label),
        ...[...section.files].map((f) => `file ${f}`),
      ];
      if (process.env.ASHPIPE_CANARY_DEBUG) console.log(mode, name, found);
      if (mode === 'redacted') expect(found, `${name}: the key leaked`).toEqual([]);
      else
        expect(found.length, `${name}: the key never met a place only redaction protects`).toBeGreaterThan(0);
    } finally {
      section = undefined;
      sandbox.faults.reset();
    }
  }

  /** The sandbox's answers to `endpoint` fail and repeat the key, the way a verbose upstream might. */
  const echoing = (
    endpoint: string,
    failure: { status?: number; code?: string; times?: number },
  ): Partial<FaultConfig> => ({ failEndpoints: { [endpoint]: { ...failure, echoKey: true } } });

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

  describe.sequential(`the API key never leaves the vault in plaintext (${mode})`, () => {
    it(
      'credentials: add, list, show, test (also against an upstream that echoes the key), rotate and back, edit, audit',
      () =>
        inSection('credentials', async () => {
          const add = await cli(
            'credentials add',
            [
              'credentials',
              'add',
              '--name',
              'canary',
              '--base-url',
              sandbox.url,
              '--api-key-stdin',
              '--json',
            ],
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
          // Ashby refuses the key and its message repeats it: the verdict is printed and audited.
          sandbox.faults.set(echoing('apiKey.info', { status: 401, code: 'unauthenticated' }));
          for (const argv of [
            ['credentials', 'test', 'canary'],
            ['credentials', 'test', 'canary', '--json'],
          ]) {
            const r = await cli(`${argv.join(' ')} (echoing upstream)`, argv);
            expect(r.code).not.toBe(0);
            expect(`${r.out}${r.err}`).toMatch(/refused the key/);
          }
          sandbox.faults.reset();
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
        }),
      STEP_TIMEOUT,
    );

    it(
      'sync into SQLite, JSONL and PostgreSQL with the stored key and with the environment variable, one stream refused by an echoing upstream',
      () =>
        inSection('sync', async () => {
          const targets = [`sqlite:${path.join(dir, 'sink.db')}`, `jsonl:${path.join(dir, 'jsonl')}`];
          if (pgUrl) {
            const url = new URL(pgUrl);
            url.searchParams.set('schema', PG_SCHEMA);
            targets.push(url.toString());
          }
          for (const target of targets) {
            sandbox.faults.set(echoing('source.list', { status: 200, code: 'invalid_input' }));
            const r = await cli(`sync ${target}`, [
              'sync',
              '--credential',
              'canary',
              '--to',
              target,
              '--json',
            ]);
            // The refused stream fails, the others are stored: a partial run.
            expect(r.code, r.err).toBe(3);
            const summary = JSON.parse(r.out) as {
              totals: { records: number };
              streams: Array<{ stream: string; status: string }>;
            };
            expect(summary.totals.records).toBeGreaterThan(0);
            expect(summary.streams.find((s) => s.stream === 'sources')?.status).toBe('failed');
          }
          sandbox.faults.set(echoing('candidate.list', { status: 200, code: 'invalid_input' }));
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
          expect(fromEnv.code, fromEnv.err).toBe(3);
          // --log-file takes the run log elsewhere, with the same permissions.
          expect(fs.statSync(customLog).mode & 0o777).toBe(0o600);
          expect(logLines(customLog).some((l) => l.msg === 'sync finished' && l.exitCode === 3)).toBe(true);
          if (pgUrl) {
            // Records are never masked: the key must simply never be put into a table.
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
                const found = rows.rows.filter((row) => leaks(row.row).length > 0);
                expect(found, `${PG_SCHEMA}.${table_name}`).toEqual([]);
              }
            } finally {
              await client.end();
            }
          }
        }),
      STEP_TIMEOUT,
    );

    it(
      'failing syncs: a deactivated key, a server that echoes the key, Ashby errors and retries',
      () =>
        inSection('failing syncs', async () => {
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
          if (mode === 'redacted') expect(wrong.err).toContain('[REDACTED]');

          sandbox.faults.set({
            failEndpoints: {
              'job.list': { status: 500, times: 1, echoKey: true },
              'candidate.list': { status: 200, code: 'invalid_input', echoKey: true },
            },
          });
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
        }),
      STEP_TIMEOUT,
    );

    it(
      'push one good and one bad row with --results, a row refused by an echoing upstream, then list, export and replay the quarantine',
      () =>
        inSection('push and quarantine', async () => {
          const input = path.join(dir, 'rows.csv');
          const email = `ada.${hex()}@example.com`;
          fs.writeFileSync(input, `name,email\r\nAda Canary,${email}\r\nBad Row,not-an-email\r\n`);
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

          // Ashby refuses a tag and its message repeats the key: the refusal goes to the results file,
          // the quarantine, its listing and its export.
          const tags = path.join(dir, 'tags.csv');
          const tag = (sandbox.records('candidateTag.list') as Array<{ id: string }>)[0]?.id;
          fs.writeFileSync(tags, `candidateEmail,tagId\r\n${email},${tag}\r\n`);
          sandbox.faults.set(echoing('candidate.addTag', { status: 200, code: 'invalid_input' }));
          const refused = await cli('push refused', [
            'push',
            '--credential',
            'canary',
            '--endpoint',
            'candidate.addTag',
            '--input',
            tags,
            '--results',
            results,
            '--json',
          ]);
          expect(refused.code, refused.err).toBe(3);
          expect(JSON.parse(refused.out).counts).toMatchObject({ quarantined: 1 });

          const list = await cli('quarantine list', ['quarantine', 'list', '--json']);
          expect(list.code, list.err).toBe(0);
          const entries = JSON.parse(list.out) as Array<{ id: number; operation: string }>;
          expect(entries).toHaveLength(2);
          const text = await cli('quarantine list text', ['quarantine', 'list']);
          expect(text.code, text.err).toBe(0);
          const exported = path.join(dir, 'quarantine.jsonl');
          const exp = await cli('quarantine export', ['quarantine', 'export', '--out', exported]);
          expect(exp.code, exp.err).toBe(0);
          for (const entry of entries) {
            const replay = await cli(`quarantine replay ${entry.operation}`, [
              'quarantine',
              'replay',
              String(entry.id),
              '--credential',
              'canary',
              '--json',
            ]);
            // Still not an email, still refused: quarantined again.
            expect(replay.code).toBe(3);
          }
        }),
      STEP_TIMEOUT,
    );

    it(
      'the REST API: add the key, probe it (also against an echoing upstream), run a source flow, read every response',
      () =>
        inSection('REST API', async () => {
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
            record(
              `${method} ${p}`,
              `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`,
            );
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
            // Ashby refuses the key and repeats it: the probe's verdict comes back in the answer.
            sandbox.faults.set(echoing('apiKey.info', { status: 401, code: 'unauthenticated' }));
            const echoed = await call('POST', `/api/v1/credentials/${credential.id}/probe`, headers);
            expect(echoed.status).toBeLessThan(500);
            sandbox.faults.reset();
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
        }),
      STEP_TIMEOUT,
    );

    it(
      'credentials test against an echoing upstream, then delete; the audit keeps the history',
      () =>
        inSection('delete', async () => {
          sandbox.faults.set(echoing('apiKey.info', { status: 401, code: 'unauthenticated' }));
          const tested = await cli('credentials test before delete', [
            'credentials',
            'test',
            'canary',
            '--json',
          ]);
          expect(tested.code).not.toBe(0);
          sandbox.faults.reset();
          const del = await cli('credentials delete', ['credentials', 'delete', 'canary', '--yes', '--json']);
          expect(del.code, del.err).toBe(0);
          const audit = await cli('credentials audit after delete', ['credentials', 'audit', '--json']);
          expect(audit.code, audit.err).toBe(0);
        }),
      STEP_TIMEOUT,
    );

    // The checks below look back at what the sections left; with redaction off they have nothing to add.
    it.skipIf(mode === 'unredacted')(
      'the run log exists, is private, and records requestIds, retries and outcomes',
      () => {
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
        expect(
          responses.every((l) => typeof l.httpStatus === 'number' && typeof l.durationMs === 'number'),
        ).toBe(true);
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
        // The echoed messages name an Authorization header; its value is masked wherever it appears.
        const text = fs.readFileSync(logFile, 'utf8');
        expect(text).toMatch(/authorization: Basic \[REDACTED\]/);
        expect(
          text.match(/authorization["']?\s*[:=]\s*["']?(?!Basic \[REDACTED\]|\[REDACTED\])\S+/gi),
        ).toBeNull();
        expect(text).not.toMatch(/Basic (?!\[REDACTED\])[A-Za-z0-9+/=]{8,}/);
      },
    );

    it.skipIf(mode === 'unredacted')('no output, response, log or file holds the key in any spelling', () => {
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
}
