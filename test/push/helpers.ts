import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { AshbyClient } from '../../src/ashby/client.js';
import { Limiter } from '../../src/ashby/limiter.js';
import { type Control, openControl, requireSqlite } from '../../src/control/open.js';
import { type PushOptions, type PushSummary, type RecordResult, runPush } from '../../src/push/engine.js';
import type { InputRow } from '../../src/push/input.js';
import { findOperation } from '../../src/push/operations/index.js';
import type { Operation } from '../../src/push/types.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createFlowSchema } from '../../src/server/api-schema.js';
import type { Flow } from '../../src/server/model.js';
import type { SqliteDatabase } from '../../src/util/sqlite.js';
import { runCli } from '../support/cli.js';
import { type ControlTarget, openTarget, removeControlTargets } from '../support/control.js';

export function tempDir(cleanup: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  cleanup.push(dir);
  return dir;
}

export function removeAll(cleanup: string[]): void {
  for (const dir of cleanup.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A real client on the sandbox with its own limiter (so tests never share pacing) and quick retries. */
export function sandboxClient(
  sandbox: Sandbox,
  apiKey = 'sandbox-full',
  extra: Partial<ConstructorParameters<typeof AshbyClient>[0]> = {},
): AshbyClient {
  return new AshbyClient({
    apiKey,
    baseUrl: sandbox.url,
    limiter: new Limiter({ maxConcurrent: 4 }),
    retry: { limit: 4, backoffBaseMs: 5, backoffLimitMs: 50 },
    ...extra,
  });
}

/** The control store of `home` on SQLite, migrated (push tests that need no PostgreSQL). */
export function openHomeControl(home: string): Promise<Control> {
  return openControl({ home });
}

/** The SQLite connection under a control store, for tests that look at the file itself. */
export function sqliteOf(control: Control): SqliteDatabase {
  return requireSqlite(control, 'this test').db;
}

export function rowsOf(records: Array<Record<string, unknown>>): InputRow[] {
  return records.map((record, i) => ({ row: i + 1, record, raw: record }));
}

export function operation(name: string): Operation {
  const op = findOperation(name);
  if (!op) throw new Error(`no operation ${name}`);
  return op;
}

/** Runs one push of `records` through `op` against the sandbox; results sorted by row. */
export async function pushTo(
  sandbox: Sandbox,
  control: Control,
  op: string | Operation,
  records: Array<Record<string, unknown>>,
  extra: Partial<PushOptions> & { apiKey?: string } = {},
): Promise<{ summary: PushSummary; results: RecordResult[] }> {
  const results: RecordResult[] = [];
  const { apiKey, ...options } = extra;
  const summary = await runPush({
    client: sandboxClient(sandbox, apiKey),
    control,
    operation: typeof op === 'string' ? operation(op) : op,
    rows: rowsOf(records),
    reconcileDelayMs: 0,
    onResult: (r) => results.push(r),
    ...options,
  });
  return { summary, results: results.sort((a, b) => a.row - b.row) };
}

/** Runs the CLI in-process (stdin empty); resolves with the exit code and both streams. */
export const cli = (argv: string[], env: NodeJS.ProcessEnv) => runCli(argv, env);

export interface Ref {
  id: string;
  [key: string]: unknown;
}

/** Seeded objects the tests hang their records on. */
export function fixtures(sandbox: Sandbox) {
  const all = <T = Ref>(endpoint: string, body?: Record<string, unknown>) =>
    sandbox.records(endpoint, body ? { body } : {}) as T[];
  const jobs = all<Ref & { status: string; confidential: boolean; defaultInterviewPlanId: string }>(
    'job.list',
  );
  const openJob = jobs.find((j) => j.status === 'Open' && !j.confidential);
  if (!openJob) throw new Error('the sandbox has no open public job');
  const stages = all<Ref & { type: string }>('interviewStage.list', {
    interviewPlanId: openJob.defaultInterviewPlanId,
  });
  return {
    openJob,
    stages,
    departments: all('department.list'),
    locations: all('location.list'),
    tags: all('candidateTag.list'),
    sources: all('source.list'),
    users: all('user.list'),
    archiveReasons: all('archiveReason.list'),
    customFields: all<
      Ref & { objectType: string; fieldType: string; selectableValues?: Array<{ value: string }> }
    >('customField.list'),
  };
}

/** Successful writes the sandbox saw for `endpoint` and natural key. */
export function writesFor(sandbox: Sandbox, endpoint: string, key?: string): number {
  const stats = sandbox.stats();
  if (key === undefined) return stats.writes[endpoint] ?? 0;
  return stats.writesByKey[endpoint]?.[key] ?? 0;
}

/** Requests of write endpoints (whatever their answer). */
export function writeRequests(sandbox: Sandbox, writeEndpoints: readonly string[]): number {
  const { requests } = sandbox.stats();
  return writeEndpoints.reduce((n, e) => n + (requests[e] ?? 0), 0);
}

/** A unique email per call, so tests never collide on the sandbox's natural keys. */
let serial = 0;
export function uniqueEmail(prefix = 'push'): string {
  serial += 1;
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${serial}@example.com`;
}

/** Seeded PRNG (mulberry32), so a failing trial can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Candidates with `email` in the sandbox's world, read from the world itself. */
export function inWorld(sandbox: Sandbox, email: string): number {
  return sandbox.records('candidate.search', { body: { email } }).length;
}

/**
 * Two sandboxes standing for two Ashby organisations (their worlds differ by seed), and control stores the
 * test opens: registers the suite's hooks (start both, close both, close the stores and remove them after
 * each test). `orgA`/`orgB` are set once the suite has started.
 */
export function twoOrganisations(): {
  orgA: Sandbox;
  orgB: Sandbox;
  open(target: ControlTarget, options?: Parameters<typeof openTarget>[1]): Promise<Control>;
  /** Closes a store the test opened before the test ends (it is not closed again). */
  close(control: Control): Promise<void>;
} {
  const opened: Control[] = [];
  const orgs = {
    orgA: undefined as unknown as Sandbox,
    orgB: undefined as unknown as Sandbox,
    async open(target: ControlTarget, options: Parameters<typeof openTarget>[1] = {}): Promise<Control> {
      const c = await openTarget(target, options);
      opened.push(c);
      return c;
    },
    async close(control: Control): Promise<void> {
      await control.close();
      opened.splice(opened.indexOf(control), 1);
    },
  };
  beforeAll(async () => {
    [orgs.orgA, orgs.orgB] = await Promise.all([
      startSandbox({ scale: 5, seed: 1 }),
      startSandbox({ scale: 5, seed: 2 }),
    ]);
  });
  afterAll(async () => {
    await orgs.orgA.close();
    await orgs.orgB.close();
  });
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
    await removeControlTargets();
  });
  return orgs;
}

/**
 * A stored destination flow of `candidate.create` on credential `credentialId`, pushing `rows` (keyed by
 * email) — or, without rows, an empty input (a replay brings its own).
 */
export function candidateCreateFlow(
  id: string,
  credentialId: string,
  rows?: Array<{ name: string; email: string }>,
): Flow {
  const config = createFlowSchema.parse({
    kind: 'destination',
    name: id,
    credentialId,
    operation: 'candidate.create',
    ...(rows ? { options: { keyColumn: 'email' } } : {}),
    input: { type: 'jsonl', content: (rows ?? []).map((r) => JSON.stringify(r)).join('\n') },
  });
  const at = new Date().toISOString();
  return {
    id,
    name: id,
    kind: 'destination',
    credentialId,
    schedule: null,
    status: 'active',
    config,
    createdAt: at,
    updatedAt: at,
    activatedAt: at,
    pausedAt: null,
    pausedReason: null,
  };
}
