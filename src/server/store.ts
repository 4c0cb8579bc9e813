import type { Insertable, Kysely, Selectable } from 'kysely';
import type { ControlDatabase, FlowRunsTable, FlowsTable } from '../control/schema.js';
import type {
  Flow,
  FlowConfig,
  FlowStatus,
  Run,
  RunAnalytics,
  RunCount,
  RunErrorInfo,
  RunStatus,
  RunTrigger,
} from './model.js';
import { asCancelled } from './run-cancel.js';
import { csrfFor, hashToken, newId, newSecret, sameDigest } from './security/crypto.js';

/** How long a console session lives without being used. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;

type FlowRow = Selectable<FlowsTable>;
type RunRow = Selectable<FlowRunsTable>;

/** An API token as listed (never its value). */
export interface ApiTokenInfo {
  id: string;
  name: string;
  /** First characters of the token, so a person can tell tokens apart. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

function toFlow(row: FlowRow): Flow {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    credentialId: row.credential_id,
    schedule: row.schedule,
    status: row.status,
    config: JSON.parse(row.config) as FlowConfig,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    activatedAt: row.activated_at,
    pausedAt: row.paused_at,
    pausedReason: row.paused_reason,
  };
}

/** A new `flow_runs` row of `flow`: not finished, not a dry run unless `fields` says so. */
function newRunRow(
  id: string,
  flow: Flow,
  trigger: RunTrigger,
  fields: Pick<Insertable<FlowRunsTable>, 'status' | 'started_at'> & Partial<Insertable<FlowRunsTable>>,
): Insertable<FlowRunsTable> {
  return {
    id,
    flow_id: flow.id,
    kind: flow.kind,
    trigger,
    finished_at: null,
    dry_run: 0,
    analytics: null,
    ...fields,
  };
}

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    flowId: row.flow_id,
    kind: row.kind,
    trigger: row.trigger as RunTrigger,
    status: row.status as RunStatus,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    counts: JSON.parse(row.counts) as RunCount[],
    errors: JSON.parse(row.errors) as RunErrorInfo[],
    dryRun: row.dry_run === 1,
    analytics: row.analytics === null ? null : (JSON.parse(row.analytics) as RunAnalytics),
    worker: row.worker ?? null,
  };
}

/**
 * The server's tables in the control store (migration `0050-server`), on SQLite or PostgreSQL alike.
 * Each method is one statement, so none needs a transaction.
 */
export class ServerStore {
  constructor(
    readonly db: Kysely<ControlDatabase>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private iso(): string {
    return this.now().toISOString();
  }

  // --- admin password -------------------------------------------------------------------------------

  async passwordHash(): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('console_admin')
      .select('password_hash')
      .where('id', '=', 1)
      .executeTakeFirst();
    return row?.password_hash;
  }

  /** Sets the admin password hash; returns false when one exists and `replace` is not set. */
  async setPasswordHash(hash: string, replace = false): Promise<boolean> {
    const at = this.iso();
    const result = await this.db
      .insertInto('console_admin')
      .values({ id: 1, password_hash: hash, created_at: at, updated_at: at })
      .onConflict((oc) =>
        replace
          ? oc.column('id').doUpdateSet((eb) => ({
              password_hash: eb.ref('excluded.password_hash'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
          : oc.column('id').doNothing(),
      )
      .executeTakeFirst();
    return replace || Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  // --- sessions -------------------------------------------------------------------------------------

  /** Opens a session; returns the cookie value and the CSRF token (only their hashes are stored). */
  async createSession(): Promise<{ token: string; csrfToken: string }> {
    const token = newSecret('s_');
    const csrfToken = csrfFor(token);
    const now = this.now();
    await this.db
      .insertInto('console_sessions')
      .values({
        token_hash: hashToken(token),
        csrf_hash: hashToken(csrfToken),
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: new Date(now.getTime() + SESSION_IDLE_MS).toISOString(),
      })
      .execute();
    return { token, csrfToken };
  }

  /** The live session a cookie names (sliding its expiry), or undefined. */
  async findSession(token: string): Promise<{ tokenHash: string; csrfHash: string } | undefined> {
    const tokenHash = hashToken(token);
    const row = await this.db
      .selectFrom('console_sessions')
      .select(['csrf_hash', 'expires_at'])
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const now = this.now();
    if (row.expires_at <= now.toISOString()) {
      await this.deleteSession(tokenHash);
      return undefined;
    }
    await this.db
      .updateTable('console_sessions')
      .set({
        last_seen_at: now.toISOString(),
        expires_at: new Date(now.getTime() + SESSION_IDLE_MS).toISOString(),
      })
      .where('token_hash', '=', tokenHash)
      .execute();
    return { tokenHash, csrfHash: row.csrf_hash };
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('token_hash', '=', tokenHash).execute();
  }

  async deleteAllSessions(): Promise<void> {
    await this.db.deleteFrom('console_sessions').execute();
  }

  // --- API tokens -----------------------------------------------------------------------------------

  async createApiToken(name: string): Promise<{ info: ApiTokenInfo; token: string }> {
    const token = newSecret('ashp_');
    const info: ApiTokenInfo = {
      id: newId('tok'),
      name,
      prefix: token.slice(0, 9),
      createdAt: this.iso(),
      lastUsedAt: null,
    };
    await this.db
      .insertInto('api_tokens')
      .values({
        id: info.id,
        name,
        token_hash: hashToken(token),
        prefix: info.prefix,
        created_at: info.createdAt,
      })
      .execute();
    return { info, token };
  }

  /** The token's id when `token` is a live API token. */
  async verifyApiToken(token: string): Promise<string | undefined> {
    const hash = hashToken(token);
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'token_hash'])
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (!row || !sameDigest(row.token_hash, hash)) return undefined;
    await this.db
      .updateTable('api_tokens')
      .set({ last_used_at: this.iso() })
      .where('id', '=', row.id)
      .execute();
    return row.id;
  }

  async listApiTokens(): Promise<ApiTokenInfo[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'prefix', 'created_at', 'last_used_at'])
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      prefix: r.prefix,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /** Revokes every API token; returns how many there were. */
  async deleteAllApiTokens(): Promise<number> {
    const result = await this.db.deleteFrom('api_tokens').executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deleteApiToken(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  // --- flows ----------------------------------------------------------------------------------------

  async createFlow(config: FlowConfig): Promise<Flow> {
    const at = this.iso();
    const id = newId('flow');
    await this.db
      .insertInto('flows')
      .values({
        id,
        name: config.name,
        kind: config.kind,
        credential_id: config.credentialId,
        schedule: config.schedule ?? null,
        status: 'paused',
        config: JSON.stringify(config),
        created_at: at,
        updated_at: at,
        activated_at: null,
      })
      .execute();
    return (await this.getFlow(id))!;
  }

  async updateFlow(id: string, config: FlowConfig): Promise<Flow | undefined> {
    const result = await this.db
      .updateTable('flows')
      .set({
        name: config.name,
        kind: config.kind,
        credential_id: config.credentialId,
        schedule: config.schedule ?? null,
        config: JSON.stringify(config),
        updated_at: this.iso(),
      })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? this.getFlow(id) : undefined;
  }

  /** Activates or pauses a flow; `reason` says why ashpipe paused it (none when a person did). */
  async setFlowStatus(id: string, status: FlowStatus, reason?: string): Promise<Flow | undefined> {
    const at = this.iso();
    await this.db
      .updateTable('flows')
      .set({
        status,
        updated_at: at,
        ...(status === 'active'
          ? { activated_at: at, paused_at: null, paused_reason: null }
          : { paused_at: at, paused_reason: reason ?? null }),
      })
      .where('id', '=', id)
      .execute();
    return this.getFlow(id);
  }

  async getFlow(id: string): Promise<Flow | undefined> {
    const row = await this.db.selectFrom('flows').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toFlow(row) : undefined;
  }

  async listFlows(): Promise<Flow[]> {
    const rows = await this.db.selectFrom('flows').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toFlow);
  }

  async flowsUsingCredential(credentialId: string): Promise<Flow[]> {
    const rows = await this.db
      .selectFrom('flows')
      .selectAll()
      .where('credential_id', '=', credentialId)
      .orderBy('name')
      .execute();
    return rows.map(toFlow);
  }

  async deleteFlow(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('flows').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  // --- runs -----------------------------------------------------------------------------------------

  async startRun(flow: Flow, trigger: RunTrigger, dryRun = false): Promise<Run> {
    const id = newId('run');
    await this.db
      .insertInto('flow_runs')
      .values(
        newRunRow(id, flow, trigger, { status: 'running', started_at: this.iso(), dry_run: dryRun ? 1 : 0 }),
      )
      .execute();
    return (await this.getRun(id))!;
  }

  /**
   * Records a run waiting in the fleet's queue (status `queued`). A worker that took the job first has
   * written the row already: then it is left as the worker wrote it.
   */
  async queueRun(flow: Flow, trigger: RunTrigger, id: string, jobId: string): Promise<Run> {
    await this.db
      .insertInto('flow_runs')
      .values(newRunRow(id, flow, trigger, { status: 'queued', started_at: this.iso(), job_id: jobId }))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.getRun(id))!;
  }

  /**
   * A worker takes a queued run: `running` under its name. A run another worker left `running` (it died,
   * its lease expired) is taken over and keeps its start time. A run that already ended (its worker died
   * after recording the end) is answered as it is, and must not run again.
   * @returns the run, the worker that had it before (on a takeover), and whether it had already ended
   */
  async claimRun(
    id: string,
    flow: Flow,
    trigger: RunTrigger,
    worker: string,
    jobId: string,
  ): Promise<{ run: Run; previousWorker: string | null; ended: boolean }> {
    const before = await this.db.selectFrom('flow_runs').selectAll().where('id', '=', id).executeTakeFirst();
    if (before && before.status !== 'queued' && before.status !== 'running')
      return { run: toRun(before), previousWorker: before.worker, ended: true };
    // Cancelled while it waited, or while a worker that died before noticing had it: not resumed.
    if (before && before.cancel_requested_at !== null) {
      await this.endCancelledRun(id);
      const ended = await this.db
        .selectFrom('flow_runs')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      return { run: toRun(ended), previousWorker: before.worker, ended: true };
    }
    const at = this.iso();
    await this.db
      .insertInto('flow_runs')
      .values(newRunRow(id, flow, trigger, { status: 'running', started_at: at, worker, job_id: jobId }))
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => ({
            status: 'running',
            worker: eb.ref('excluded.worker'),
            job_id: eb.ref('excluded.job_id'),
          }))
          .where('flow_runs.status', 'in', ['queued', 'running']),
      )
      .execute();
    // The wait in the queue is not part of the run: a run starts when a worker first takes it.
    if (before?.status === 'queued' && before.worker === null)
      await this.db.updateTable('flow_runs').set({ started_at: at }).where('id', '=', id).execute();
    const run = (await this.getRun(id))!;
    return {
      run,
      previousWorker: before?.worker ?? null,
      ended: run.status !== 'running' || run.worker !== worker,
    };
  }

  /**
   * Puts a run a worker hands back (it is stopping) to `queued` again; a no-op when another worker has
   * taken it meanwhile.
   */
  async requeueRun(id: string, worker: string): Promise<void> {
    await this.db
      .updateTable('flow_runs')
      .set({ status: 'queued', worker: null })
      .where('id', '=', id)
      .where('worker', '=', worker)
      .where('status', '=', 'running')
      .execute();
  }

  /** The flow's run that is queued or running, if any (the latest). */
  async activeRun(flowId: string): Promise<Run | undefined> {
    const row = await this.db
      .selectFrom('flow_runs')
      .selectAll()
      .where('flow_id', '=', flowId)
      .where('status', 'in', ['queued', 'running'])
      .orderBy('started_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  /** Runs of the fleet's queue not ended yet, with their job ids and whether a cancel was asked for. */
  async openQueueRuns(): Promise<
    Array<{ id: string; flowId: string; jobId: string; status: RunStatus; cancelRequested: boolean }>
  > {
    const rows = await this.db
      .selectFrom('flow_runs')
      .select(['id', 'flow_id', 'job_id', 'status', 'cancel_requested_at'])
      .where('status', 'in', ['queued', 'running'])
      .where('job_id', 'is not', null)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      flowId: r.flow_id,
      jobId: r.job_id as string,
      status: r.status as RunStatus,
      cancelRequested: r.cancel_requested_at !== null,
    }));
  }

  /**
   * Records that a person asked to cancel a run of the fleet's queue; the worker running it reads this
   * and stops it (the first request's time is kept).
   * @returns false when the run is not queued or running any more
   */
  async requestCancel(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('flow_runs')
      .set((eb) => ({ cancel_requested_at: eb.fn.coalesce('cancel_requested_at', eb.val(this.iso())) }))
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Whether a cancel of the run was asked for ({@link requestCancel}). */
  async cancelRequested(id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('flow_runs')
      .select('cancel_requested_at')
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined && row.cancel_requested_at !== null;
  }

  /**
   * Ends a run that is still queued or running as `cancelled`, its counts and errors as a cancel leaves
   * them (what the run recorded is kept; streams cut short say `cancelled`); a no-op once it ended.
   * @returns whether it ended the run
   */
  async endCancelledRun(id: string): Promise<boolean> {
    const run = await this.getRun(id);
    if (!run || (run.status !== 'queued' && run.status !== 'running')) return false;
    const [status, counts, errors] = asCancelled(run);
    const result = await this.db
      .updateTable('flow_runs')
      .set({
        status,
        finished_at: this.iso(),
        counts: JSON.stringify(counts),
        errors: JSON.stringify(errors),
      })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Ends a run that is still queued or running (a no-op otherwise); answers whether it did. */
  async endOpenRun(id: string, status: RunStatus, errors: RunErrorInfo[]): Promise<boolean> {
    const result = await this.db
      .updateTable('flow_runs')
      .set({ status, finished_at: this.iso(), errors: JSON.stringify(errors) })
      .where('id', '=', id)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async updateRunCounts(id: string, counts: RunCount[]): Promise<void> {
    await this.db
      .updateTable('flow_runs')
      .set({ counts: JSON.stringify(counts) })
      .where('id', '=', id)
      .execute();
  }

  /** Ends a run; `analytics` absent keeps what the run recorded (a cancel after the fact). */
  async finishRun(
    id: string,
    status: RunStatus,
    counts: RunCount[],
    errors: RunErrorInfo[],
    analytics?: RunAnalytics,
  ): Promise<Run> {
    await this.db
      .updateTable('flow_runs')
      .set({
        status,
        finished_at: this.iso(),
        counts: JSON.stringify(counts),
        errors: JSON.stringify(errors),
        ...(analytics ? { analytics: JSON.stringify(analytics) } : {}),
      })
      .where('id', '=', id)
      .execute();
    return (await this.getRun(id))!;
  }

  /**
   * Runs a previous process left `running` (it crashed or was stopped): they are failed now. With
   * `inProcessOnly`, only runs that were not taken from the fleet's queue (those are resumed by a worker).
   */
  async failInterruptedRuns(options: { inProcessOnly?: boolean } = {}): Promise<number> {
    let query = this.db
      .updateTable('flow_runs')
      .set({
        status: 'failed',
        finished_at: this.iso(),
        errors: JSON.stringify([
          { code: 'interrupted', message: 'The server stopped while this run was going.' },
        ] satisfies RunErrorInfo[]),
      })
      .where('status', '=', 'running');
    if (options.inProcessOnly) query = query.where('job_id', 'is', null);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async getRun(id: string): Promise<Run | undefined> {
    const row = await this.db.selectFrom('flow_runs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  async listRuns(filter: { flowId?: string; limit?: number; offset?: number } = {}): Promise<Run[]> {
    let query = this.db.selectFrom('flow_runs').selectAll();
    if (filter.flowId) query = query.where('flow_id', '=', filter.flowId);
    const rows = await query
      .orderBy('started_at', 'desc')
      .orderBy('id')
      .limit(filter.limit ?? 50)
      .offset(filter.offset ?? 0)
      .execute();
    return rows.map(toRun);
  }

  async lastRun(flowId: string, includeDryRuns = false): Promise<Run | undefined> {
    let query = this.db.selectFrom('flow_runs').selectAll().where('flow_id', '=', flowId);
    if (!includeDryRuns) query = query.where('dry_run', '=', 0);
    const row = await query.orderBy('started_at', 'desc').limit(1).executeTakeFirst();
    return row ? toRun(row) : undefined;
  }
}
