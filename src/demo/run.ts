import fs from 'node:fs';
import path from 'node:path';
import { installAnalytics, openAnalyticsTarget, readView, type ViewRow } from '../analytics/index.js';
import { AshbyClient } from '../ashby/index.js';
import { openControl } from '../control/index.js';
import { IMPLEMENTED_ENDPOINTS, type Sandbox, startSandbox } from '../sandbox/index.js';
import { selectStreams } from '../streams/index.js';
import type { SyncEvent, SyncSummary } from '../sync/index.js';
import { syncToTarget } from '../sync/index.js';
import { openSqlite } from '../util/sqlite.js';
import { Vault } from '../vault/index.js';

/** Sandbox candidates of the demo unless asked otherwise. */
export const DEMO_SCALE = 300;

/** Name of the credential the demo stores in its own vault. */
export const DEMO_CREDENTIAL = 'sandbox-demo';
/** The sandbox key with every scope and confidential access. */
const DEMO_KEY = 'sandbox-full';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /**
   * SQLite file the demo syncs into; replaced on every run.
   * @default './ashpipe-demo.db'
   */
  db?: string;
  /**
   * ashpipe home of the demo (its own control store, vault and master key), kept apart from yours.
   * @default './.ashpipe-demo'
   */
  home?: string;
  /**
   * Candidates in the sandbox; every other count derives from it. Kept small because the stage history
   * costs one request per application on the first sync.
   * @default 300
   * @example 1000
   */
  scale?: number;
  /** Where the story goes (stderr). */
  say: (line: string) => void;
  /**
   * Shows a sync: `run` performs it with the events given; the caller draws progress from them and says
   * what the summary holds. The demo's second run is one where most streams read nothing new.
   * @default runs the sync and shows nothing
   */
  show?: (
    run: (onEvent?: (event: SyncEvent) => void) => Promise<SyncSummary>,
    step: 'full' | 'incremental' | 'reconcile',
  ) => Promise<SyncSummary>;
}

/** What the demo did, for `--json` and tests. */
export interface DemoResult {
  db: string;
  home: string;
  sandboxUrl: string;
  credential: string;
  full: SyncSummary;
  incremental: SyncSummary;
  reconcile: SyncSummary;
  changes: { created: string[]; updated: string[]; deleted: string[]; movedApplication: string };
  /** Writes the sandbox answered through its HTTP API, per endpoint (the creates and updates). */
  apiWrites: Record<string, number>;
  queries: string[];
  /**
   * History mode on applications: the table, how many versions it holds, and the versions of the
   * application the demo moved (its first stage and the one it was moved to).
   */
  history: { table: string; versions: number; movedApplicationVersions: number };
  /** One analytics view after the syncs: the funnel of the job with the most applications. */
  analytics: { view: string; job: string; columns: string[]; rows: ViewRow[] };
}

/** The analytics view the demo prints. */
export const DEMO_VIEW = 'analytics_application_funnel';

/** Two queries a person can paste into `sqlite3 ashpipe-demo.db`. */
export const DEMO_QUERIES = [
  `SELECT json_extract(job, '$.title') AS job, status, count(*) AS applications
  FROM applications WHERE _ashpipe_deleted_at IS NULL
  GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 10;`,
  `SELECT c.name, v.title AS custom_field, v.value
  FROM candidates c JOIN custom_field_values v ON v.object_type = 'Candidate' AND v.object_id = c.id
  WHERE c._ashpipe_deleted_at IS NULL LIMIT 10;`,
  `SELECT _ashpipe_record_id AS application, json_extract(current_interview_stage, '$.title') AS stage,
  _ashpipe_valid_from, _ashpipe_valid_to FROM applications_history
  WHERE _ashpipe_record_id IN (SELECT _ashpipe_record_id FROM applications_history WHERE NOT _ashpipe_is_current)
  ORDER BY 1, 3;`,
];

/** Streams the demo keeps history of (`sync --history applications`). */
export const DEMO_HISTORY = ['applications'];

/** How many versions `applications_history` holds, in all and of one application. */
function historyCounts(db: string, applicationId: string): DemoResult['history'] {
  const sqlite = openSqlite(db, { readonly: true });
  try {
    const all = sqlite.prepare('SELECT count(*) AS n FROM applications_history').get() as { n: number };
    const moved = sqlite
      .prepare('SELECT count(*) AS n FROM applications_history WHERE _ashpipe_record_id = ?')
      .get(applicationId) as { n: number };
    return { table: 'applications_history', versions: all.n, movedApplicationVersions: moved.n };
  } finally {
    sqlite.close();
  }
}

function removeDatabase(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) fs.rmSync(`${file}${suffix}`, { force: true });
}

/** Stores the sandbox key in the demo's vault (replacing an older one) and reads it back as a sync would. */
async function storeDemoCredential(
  home: string,
  baseUrl: string,
  say: (line: string) => void,
): Promise<string> {
  // Always control.db in the demo's own home, whatever ASHPIPE_CONTROL_URL the shell has.
  const control = await openControl({ home });
  try {
    // The demo vault has its own master key file, whatever ASHPIPE_MASTER_KEY the shell has.
    const env = { ...process.env };
    delete env.ASHPIPE_MASTER_KEY;
    const vault = new Vault(control, { home, env, notice: say });
    if (await vault.has(DEMO_CREDENTIAL)) await vault.delete(DEMO_CREDENTIAL);
    await vault.add({
      name: DEMO_CREDENTIAL,
      apiKey: DEMO_KEY,
      baseUrl,
      description: 'Local sandbox key used by `ashpipe demo`',
    });
    return (await vault.reveal(DEMO_CREDENTIAL, 'demo sync')).apiKey;
  } finally {
    await control.close();
  }
}

type Rec = Record<string, unknown>;

/** The candidates the demo creates, as a recruiter would add them. */
const NEW_CANDIDATES = [
  { name: 'Grace Hopper', email: 'grace.hopper@example.com' },
  { name: 'Katherine Johnson', email: 'katherine.johnson@example.com' },
];

/**
 * Creates and updates a few candidates through the Ashby API, exactly as an API client would, and deletes
 * one inside the sandbox: Ashby has no endpoint that deletes a candidate (people delete them in the app).
 */
async function changeSomeRecords(sandbox: Sandbox, apiKey: string): Promise<DemoResult['changes']> {
  const client = new AshbyClient({ apiKey, baseUrl: sandbox.url });
  const candidates = sandbox.records('candidate.list', { apiKey }) as Rec[];
  const pick = (i: number): Rec => {
    const rec = candidates[Math.floor((i * candidates.length) / 7)];
    if (!rec) throw new Error('the sandbox has too few candidates for the demo');
    return rec;
  };
  const created: string[] = [];
  for (const person of NEW_CANDIDATES) {
    const { results } = await client.call<{ id: string }>('candidate.create', person);
    created.push(results.id);
  }
  const updated: string[] = [];
  for (const i of [1, 2, 3]) {
    const id = String(pick(i).id);
    await client.call('candidate.update', {
      candidateId: id,
      location: { city: 'Lisbon', country: 'Portugal' },
      sendNotifications: false,
    });
    updated.push(id);
  }
  const gone = String(pick(5).id);
  sandbox.mutate.deleteCandidate(gone);
  // A recruiter moves one application on: the next sync re-reads that application's stage history only.
  const applications = sandbox.records('application.list', { apiKey }) as Rec[];
  const app = applications.find((a) => a.status === 'Active');
  if (!app) throw new Error('the sandbox has no active application for the demo');
  const current = app.currentInterviewStage as Rec;
  const next = sandbox.world
    .stagesOfPlan(String(current.interviewPlanId))
    .find((s) => s.type !== 'Archived' && s.id !== current.id);
  if (!next) throw new Error('the sandbox has no stage to move an application to');
  await client.call('application.changeStage', { applicationId: app.id, interviewStageId: next.id });
  return { created, updated, deleted: [gone], movedApplication: String(app.id) };
}

/** Installs the analytics views and says what the funnel of the busiest job looks like. */
async function showAnalytics(target: string, say: (line: string) => void): Promise<DemoResult['analytics']> {
  const views = openAnalyticsTarget(target);
  try {
    const installed = await installAnalytics(views);
    const { columns, rows } = await readView(views, DEMO_VIEW);
    const entered = new Map<string, number>();
    for (const r of rows)
      entered.set(String(r.job_id), (entered.get(String(r.job_id)) ?? 0) + Number(r.entered));
    const job = [...entered].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? '';
    const mine = rows.filter((r) => r.job_id === job);
    say(
      `\n7. Installed ${installed.filter((v) => v.status === 'installed').length} analytics views (\`ashpipe analytics list\`). The funnel of "${String(mine[0]?.job_title ?? job)}", from ${DEMO_VIEW}:`,
    );
    const shown = ['stage_title', 'entered', 'currently_in', 'advanced', 'archived', 'conversion_to_next'];
    const cells = [shown, ...mine.map((r) => shown.map((c) => String(r[c] ?? '')))];
    const widths = shown.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
    for (const r of cells)
      say(
        `   ${r
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}`,
      );
    say(
      '   As charts: `ashpipe serve`, a source flow into this database, then Flows › Insights (#/flows/ID/insights).',
    );
    return { view: DEMO_VIEW, job, columns, rows: mine };
  } finally {
    await views.close();
  }
}

/**
 * The README's first command: a sandbox in this process, a credential in a demo vault, a full sync of every
 * stream into SQLite, a few changes in the sandbox, an incremental sync that reads only those, and a full
 * pass of candidates that applies the deletion.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const db = path.resolve(options.db ?? './ashpipe-demo.db');
  const home = path.resolve(options.home ?? './.ashpipe-demo');
  const say = options.say;
  const sandbox = await startSandbox({ scale: options.scale ?? DEMO_SCALE, seed: 1 });
  try {
    say(
      `1. Started an Ashby sandbox at ${sandbox.url} (${options.scale ?? DEMO_SCALE} candidates, made-up data).`,
    );
    const apiKey = await storeDemoCredential(home, sandbox.url, say);
    say(`2. Stored its API key encrypted in the demo vault (${home}) as credential "${DEMO_CREDENTIAL}".`);
    removeDatabase(db);
    const implemented = new Set(IMPLEMENTED_ENDPOINTS);
    // The default streams and the opt-in stage history, which the analytics views read.
    const streams = [...selectStreams(), ...selectStreams({ streams: ['application_stage_history'] })].filter(
      (s) => implemented.has(s.endpoint),
    );
    const target = `sqlite:${db}`;
    const show = options.show ?? ((run) => run());
    const sync = (
      step: 'full' | 'incremental' | 'reconcile',
      extra: Partial<Parameters<typeof syncToTarget>[0]> = {},
    ) =>
      show(
        (onEvent) =>
          syncToTarget({
            apiKey,
            baseUrl: sandbox.url,
            target,
            streams,
            history: DEMO_HISTORY,
            ...(onEvent ? { onEvent } : {}),
            ...extra,
          }),
        step,
      );

    say(`3. Full sync of ${streams.length} streams into ${db}:`);
    const full = await sync('full');

    const changes = await changeSomeRecords(sandbox, apiKey);
    say(
      `\n4. Changed the sandbox: created ${changes.created.length} candidates (candidate.create), updated ${changes.updated.length} (candidate.update) and moved 1 application to another stage (application.changeStage) through the Ashby API, and deleted ${changes.deleted.length} candidate in the sandbox itself (the API has no delete).`,
    );
    say('5. Incremental sync: only what changed since the last sync is read.');
    const incremental = await sync('incremental');
    say(
      `   The incremental sync made ${incremental.totals.requests} requests and read ${incremental.totals.records} records; the full sync made ${full.totals.requests} and read ${full.totals.records}.`,
    );
    const versions = historyCounts(db, changes.movedApplication);
    say(
      `   History mode is on for applications: ${versions.table} keeps every version (${versions.movedApplicationVersions} of the application that moved, ${versions.versions} in all).`,
    );
    const history = (s: SyncSummary) => s.streams.find((r) => r.stream === 'application_stage_history');
    say(
      `   Stage history: ${history(incremental)?.requests ?? 0} request${history(incremental)?.requests === 1 ? '' : 's'} for the application that moved, against ${history(full)?.requests ?? 0} to read every application's history the first time.`,
    );

    say(
      '\n6. Ashby does not report deletions to an incremental sync: a full pass finds them (weekly by default, or `--full-refresh`). Full pass of candidates:',
    );
    const reconcile = await sync('reconcile', {
      streams: streams.filter((s) => s.name === 'candidates'),
      fullRefresh: true,
    });

    const analytics = await showAnalytics(target, say);
    return {
      db,
      home,
      sandboxUrl: sandbox.url,
      credential: DEMO_CREDENTIAL,
      full,
      incremental,
      reconcile,
      changes,
      apiWrites: sandbox.stats().writes,
      queries: DEMO_QUERIES,
      history: versions,
      analytics,
    };
  } finally {
    await sandbox.close();
  }
}
