import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { Logger } from '../../src/observability/logger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { startServer } from '../../src/server/index.js';
import type { Flow, Run } from '../../src/server/model.js';
import { registerSecret } from '../../src/util/redact.js';
import { runCli } from '../support/cli.js';
import {
  controlDialects,
  newControlTarget,
  removeControlTargets,
  TEST_FLEET_TIMINGS,
} from '../support/control.js';
import { createApiToken, tokenClient } from '../support/server-token.js';

/** An API key that must never be seen: not in a line, not in a file, not in any spelling. */
const CANARY = 'canary-key-4f1d9a7e0b2c';
const spellings = [
  CANARY,
  Buffer.from(`${CANARY}:`).toString('base64'),
  Buffer.from(`${CANARY}:`).toString('base64').replace(/=+$/, ''),
];

function expectNoCanary(text: string): void {
  for (const s of spellings) expect(text).not.toContain(s);
}

/** Each line of `text` as a JSON object (throws on a line that is not one). */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const v: unknown = JSON.parse(l);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`not an object: ${l}`);
      return v as Record<string, unknown>;
    });
}

describe('structured logs', () => {
  it('writes one JSON object per line, at its level, with its bindings, and masks the key in every field', () => {
    registerSecret(CANARY);
    const lines: string[] = [];
    const log = new Logger(
      { level: 'info', sink: (l) => lines.push(l) },
      { command: 'test', runId: 'run-1' },
    );
    const flow = log.child({ flowId: 'flow-1' });
    flow.debug('not written at info');
    flow.info(`calling with ${CANARY}`, {
      apiKey: 'a-secret-field-value',
      header: `Authorization: Basic ${Buffer.from(`${CANARY}:`).toString('base64')}`,
      nested: { deep: [CANARY] },
    });
    flow.warn('rate limited', { endpoint: 'candidate.list' });
    flow.error('failed', { error: new Error(`refused ${CANARY}`) });

    expect(lines).toHaveLength(3);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => p.level)).toEqual(['info', 'warn', 'error']);
    for (const p of parsed) {
      expect(p).toMatchObject({ command: 'test', runId: 'run-1', flowId: 'flow-1' });
      expect(new Date(String(p.time)).toISOString()).toBe(p.time);
    }
    expect(parsed[0]).toMatchObject({ msg: 'calling with [REDACTED]', apiKey: '[REDACTED]' });
    expect(parsed[0]?.nested).toEqual({ deep: ['[REDACTED]'] });
    expect(parsed[1]).toMatchObject({ msg: 'rate limited', endpoint: 'candidate.list' });
    expect(parsed[2]?.error).toBe('refused [REDACTED]');
    expectNoCanary(lines.join('\n'));
    expect(lines.join('\n')).not.toContain('a-secret-field-value');
  });
});

describe('--log-format', () => {
  let sandbox: Sandbox;
  let dir: string;
  beforeAll(async () => {
    sandbox = await startSandbox({
      port: 0,
      scale: 30,
      keys: [{ key: CANARY, title: 'Canary', scopes: ALL_SCOPES, confidential: true }],
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-logs-'));
  });
  afterAll(async () => {
    await sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (home: string): NodeJS.ProcessEnv => ({
    ASHBY_API_KEY: CANARY,
    ASHPIPE_HOME: path.join(dir, home),
    ASHPIPE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
    ASHPIPE_LOG_LEVEL: 'debug',
  });

  it('json: every line on stderr is a JSON object with the run id, the key never shows', async () => {
    sandbox.resetStats();
    const r = await runCli(
      [
        'sync',
        '--base-url',
        sandbox.url,
        '--to',
        `sqlite:${path.join(dir, 'json.db')}`,
        '--streams',
        'sources,jobs',
        '--log-format',
        'json',
      ],
      env('json-home'),
    );
    expect(r.code).toBe(0);
    const lines = jsonLines(r.err);
    expect(lines.length).toBeGreaterThan(3);
    const runId = lines[0]?.runId;
    expect(typeof runId).toBe('string');
    for (const line of lines) {
      expect(line).toMatchObject({ command: 'sync', runId });
      expect(['debug', 'info', 'warn', 'error']).toContain(line.level);
    }
    expect(lines.map((l) => l.msg)).toContain('sync started');
    // Each answer the sandbox gave is one debug line, naming its endpoint and status.
    const answers = lines.filter((l) => l.msg === 'ashby response');
    const seen = Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);
    expect(answers).toHaveLength(seen);
    const byEndpoint: Record<string, number> = {};
    for (const l of answers) byEndpoint[String(l.endpoint)] = (byEndpoint[String(l.endpoint)] ?? 0) + 1;
    expect(byEndpoint).toEqual(sandbox.stats().requests);
    expect(answers.every((l) => l.httpStatus === 200)).toBe(true);
    // The run log file holds the same run's lines.
    const file = fs.readFileSync(path.join(dir, 'json-home', 'logs', 'ashpipe.log'), 'utf8');
    const fileLines = jsonLines(file);
    expect(fileLines.filter((l) => l.msg === 'ashby response')).toHaveLength(seen);
    expect(fileLines.filter((l) => l.runId !== runId)).toEqual([]);
    expectNoCanary(r.err + r.out + file);
  }, 60_000);

  it('text (the default): stderr shows the human lines, the run log stays in its file', async () => {
    const r = await runCli(
      [
        'sync',
        '--base-url',
        sandbox.url,
        '--to',
        `sqlite:${path.join(dir, 'text.db')}`,
        '--streams',
        'sources',
      ],
      env('text-home'),
    );
    expect(r.code).toBe(0);
    // The summary as today: text for a person, no JSON lines anywhere.
    expect(r.out).toContain('sources');
    expect(() => jsonLines(r.out)).toThrow();
    expect(r.err + r.out).not.toContain('"runId"');
    const file = jsonLines(fs.readFileSync(path.join(dir, 'text-home', 'logs', 'ashpipe.log'), 'utf8'));
    expect(file.map((l) => l.msg)).toContain('sync started');
    expectNoCanary(r.err + r.out);
  }, 60_000);

  it('refuses an unknown format', async () => {
    const r = await runCli(
      ['sync', '--base-url', sandbox.url, '--to', `sqlite:${path.join(dir, 'x.db')}`, '--log-format', 'xml'],
      env('bad-home'),
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('--log-format must be one of text, json');
  });
});

describe('a flow run on the server', () => {
  /** A sandbox key of its own, named at random: any spelling of it in a line is a leak. */
  const KEY = `canary-${randomBytes(12).toString('hex')}`;
  const keySpellings = [
    KEY,
    Buffer.from(`${KEY}:`).toString('base64'),
    Buffer.from(`${KEY}:`).toString('base64').replace(/=+$/, ''),
  ];
  const PASSWORD = 'flow run logs server password';
  const TIMINGS = TEST_FLEET_TIMINGS;
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startSandbox({
      port: 0,
      scale: 30,
      keys: [{ key: KEY, title: 'Canary', scopes: ALL_SCOPES, confidential: true }],
    });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  afterEach(() => removeControlTargets());

  // SQLite: the server's scheduler runs the flow in its process. PostgreSQL: the run is queued and the
  // server's own fleet worker takes it.
  it.each(controlDialects('flow run logs on a PostgreSQL control store'))(
    '%s: every line of the run carries its runId and flowId, the key never shows',
    async (dialect) => {
      const target = newControlTarget(dialect);
      const lines: string[] = [];
      // As `ashpipe serve` binds its own log (openRunLog): the command and the serve process's run id.
      const serveRunId = randomBytes(6).toString('hex');
      const server = await startServer({
        home: target.home,
        ...(target.url ? { controlUrl: target.url, fleetTimings: TIMINGS } : {}),
        env: { ASHPIPE_ADMIN_PASSWORD: PASSWORD, ASHPIPE_MASTER_KEY: Buffer.alloc(32, 5).toString('base64') },
        port: 0,
        serviceOptions: { baseUrl: sandbox.url },
        worker: { concurrency: 1, name: 'logs-worker' },
        logger: new Logger(
          { level: 'debug', sink: (l) => lines.push(l) },
          { command: 'serve', runId: serveRunId },
        ),
      });
      try {
        const token = await createApiToken(server.url, PASSWORD);
        const { api } = tokenClient(() => ({ url: server.url, token }));
        const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
          name: 'canary',
          apiKey: KEY,
        });
        const { flow } = await api<{ flow: Flow }>('POST', '/flows', {
          kind: 'source',
          name: 'Logged',
          credentialId: credential.id,
          streams: ['sources', 'jobs'],
          target: { type: 'sqlite', path: path.join(target.home, 'data', 'logged.db') },
        });
        sandbox.resetStats();
        const from = lines.length;
        const started = await api<{ run: Run }>('POST', `/flows/${flow.id}/run`);
        let run = started.run;
        for (let i = 0; i < 600 && (run.status === 'queued' || run.status === 'running'); i++) {
          await new Promise((r) => setTimeout(r, 100));
          run = (await api<{ run: Run }>('GET', `/runs/${run.id}`)).run;
        }
        expect(run.status).toBe('succeeded');
        // The scheduler lets the flow go, or the worker says the run is over, just after its end is recorded.
        const settled = () =>
          dialect === 'postgres'
            ? lines.slice(from).some((l) => l.includes('"run finished"'))
            : server.deps.scheduler.runningRun(flow.id) === undefined;
        for (let i = 0; i < 100 && !settled(); i++) await new Promise((r) => setTimeout(r, 50));
        const during = lines.slice(from);
        // Nothing else happens on this server meanwhile: every line written while the run goes is the run's.
        expect(during.length).toBeGreaterThan(0);
        for (const raw of during) {
          // One runId per line: the run's replaces the serve process's (a consumer may read either copy).
          expect(raw.match(/"runId":/g), raw).toHaveLength(1);
          expect(raw.match(/"flowId":/g), raw).toHaveLength(1);
        }
        const parsed = jsonLines(during.join('\n'));
        for (const line of parsed)
          expect(line, String(line.msg)).toMatchObject({ command: 'serve', runId: run.id, flowId: flow.id });
        // Each answer Ashby gave the run is one debug line naming its endpoint (docs/operations.md, Logs).
        const answers = parsed.filter((l) => l.msg === 'ashby response');
        const byEndpoint: Record<string, number> = {};
        for (const l of answers) byEndpoint[String(l.endpoint)] = (byEndpoint[String(l.endpoint)] ?? 0) + 1;
        expect(byEndpoint).toEqual(sandbox.stats().requests);
        expect(Object.keys(byEndpoint).sort()).toEqual(['job.list', 'source.list']);
        expect(answers.every((l) => l.level === 'debug' && l.httpStatus === 200)).toBe(true);
        // The end line tells the counts the run recorded.
        const records = run.counts.reduce((n, c) => n + c.read, 0);
        expect(records).toBeGreaterThan(0);
        if (dialect === 'sqlite') {
          // A run in the server's own process says at info when it starts and how it ended.
          // (Between them, the sink's own info lines: columns it added for fields the spec does not list.)
          const info = parsed.filter((l) => l.level === 'info');
          expect(info.at(0)).toMatchObject({ msg: 'run started', trigger: 'manual' });
          expect(info.at(-1)).toMatchObject({
            msg: 'run finished',
            status: 'succeeded',
            read: records,
            written: records,
          });
          expect(new Set(info.slice(1, -1).map((l) => l.msg))).toEqual(new Set(['new columns']));
        } else {
          // The fleet's worker says at info when it takes the run and how it ended.
          const info = parsed.filter((l) => l.level === 'info').map((l) => l.msg);
          expect(info).toEqual(expect.arrayContaining(['run queued', 'run taken', 'run finished']));
          expect(parsed.find((l) => l.msg === 'run finished')).toMatchObject({
            worker: 'logs-worker',
            status: 'succeeded',
          });
        }
        const all = lines.join('\n');
        for (const s of keySpellings) expect(all).not.toContain(s);
      } finally {
        await server.close();
      }
    },
    60_000,
  );
});
