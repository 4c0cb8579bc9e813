import type { SqliteDatabase } from '../util/sqlite.js';
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
import { csrfFor, hashToken, newId, newSecret, sameDigest } from './security/crypto.js';

/** How long a console session lives without being used. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;

interface FlowRow {
  id: string;
  name: string;
  kind: 'source' | 'destination';
  credential_id: string;
  schedule: string | null;
  status: FlowStatus;
  config: string;
  created_at: string;
  updated_at: string;
  activated_at: string | null;
}

interface RunRow {
  id: string;
  flow_id: string;
  kind: 'source' | 'destination';
  trigger: RunTrigger;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  counts: string;
  errors: string;
  dry_run: number;
  analytics: string | null;
}

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
  };
}

function toRun(row: RunRow): Run {
  return {
    id: row.id,
    flowId: row.flow_id,
    kind: row.kind,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    counts: JSON.parse(row.counts) as RunCount[],
    errors: JSON.parse(row.errors) as RunErrorInfo[],
    dryRun: row.dry_run === 1,
    analytics: row.analytics === null ? null : (JSON.parse(row.analytics) as RunAnalytics),
  };
}

/** The server's tables in the control store (migration `0050-server`). */
export class ServerStore {
  constructor(
    readonly db: SqliteDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private iso(): string {
    return this.now().toISOString();
  }

  // --- admin password -------------------------------------------------------------------------------

  passwordHash(): string | undefined {
    const row = this.db.prepare('SELECT password_hash FROM console_admin WHERE id = 1').get() as
      | { password_hash: string }
      | undefined;
    return row?.password_hash;
  }

  /** Sets the admin password hash; returns false when one exists and `replace` is not set. */
  setPasswordHash(hash: string, replace = false): boolean {
    const at = this.iso();
    if (replace) {
      this.db
        .prepare(
          `INSERT INTO console_admin (id, password_hash, created_at, updated_at) VALUES (1, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at`,
        )
        .run(hash, at, at);
      return true;
    }
    const result = this.db
      .prepare(
        'INSERT OR IGNORE INTO console_admin (id, password_hash, created_at, updated_at) VALUES (1, ?, ?, ?)',
      )
      .run(hash, at, at);
    return result.changes === 1;
  }

  // --- sessions -------------------------------------------------------------------------------------

  /** Opens a session; returns the cookie value and the CSRF token (only their hashes are stored). */
  createSession(): { token: string; csrfToken: string } {
    const token = newSecret('s_');
    const csrfToken = csrfFor(token);
    const now = this.now();
    this.db
      .prepare(
        'INSERT INTO console_sessions (token_hash, csrf_hash, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(
        hashToken(token),
        hashToken(csrfToken),
        now.toISOString(),
        now.toISOString(),
        new Date(now.getTime() + SESSION_IDLE_MS).toISOString(),
      );
    return { token, csrfToken };
  }

  /** The live session a cookie names (sliding its expiry), or undefined. */
  findSession(token: string): { tokenHash: string; csrfHash: string } | undefined {
    const tokenHash = hashToken(token);
    const row = this.db
      .prepare('SELECT csrf_hash, expires_at FROM console_sessions WHERE token_hash = ?')
      .get(tokenHash) as { csrf_hash: string; expires_at: string } | undefined;
    if (!row) return undefined;
    const now = this.now();
    if (row.expires_at <= now.toISOString()) {
      this.db.prepare('DELETE FROM console_sessions WHERE token_hash = ?').run(tokenHash);
      return undefined;
    }
    this.db
      .prepare('UPDATE console_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?')
      .run(now.toISOString(), new Date(now.getTime() + SESSION_IDLE_MS).toISOString(), tokenHash);
    return { tokenHash, csrfHash: row.csrf_hash };
  }

  deleteSession(tokenHash: string): void {
    this.db.prepare('DELETE FROM console_sessions WHERE token_hash = ?').run(tokenHash);
  }

  deleteAllSessions(): void {
    this.db.prepare('DELETE FROM console_sessions').run();
  }

  // --- API tokens -----------------------------------------------------------------------------------

  createApiToken(name: string): { info: ApiTokenInfo; token: string } {
    const token = newSecret('ashp_');
    const info: ApiTokenInfo = {
      id: newId('tok'),
      name,
      prefix: token.slice(0, 9),
      createdAt: this.iso(),
      lastUsedAt: null,
    };
    this.db
      .prepare('INSERT INTO api_tokens (id, name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(info.id, name, hashToken(token), info.prefix, info.createdAt);
    return { info, token };
  }

  /** The token's id when `token` is a live API token. */
  verifyApiToken(token: string): string | undefined {
    const hash = hashToken(token);
    const row = this.db.prepare('SELECT id, token_hash FROM api_tokens WHERE token_hash = ?').get(hash) as
      | { id: string; token_hash: string }
      | undefined;
    if (!row || !sameDigest(row.token_hash, hash)) return undefined;
    this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(this.iso(), row.id);
    return row.id;
  }

  listApiTokens(): ApiTokenInfo[] {
    const rows = this.db
      .prepare('SELECT id, name, prefix, created_at, last_used_at FROM api_tokens ORDER BY created_at')
      .all() as Array<{
      id: string;
      name: string;
      prefix: string;
      created_at: string;
      last_used_at: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      prefix: r.prefix,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
    }));
  }

  /** Revokes every API token; returns how many there were. */
  deleteAllApiTokens(): number {
    return this.db.prepare('DELETE FROM api_tokens').run().changes;
  }

  deleteApiToken(id: string): boolean {
    return this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes === 1;
  }

  // --- flows ----------------------------------------------------------------------------------------

  createFlow(config: FlowConfig): Flow {
    const at = this.iso();
    const id = newId('flow');
    this.db
      .prepare(
        `INSERT INTO flows (id, name, kind, credential_id, schedule, status, config, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'paused', ?, ?, ?)`,
      )
      .run(
        id,
        config.name,
        config.kind,
        config.credentialId,
        config.schedule ?? null,
        JSON.stringify(config),
        at,
        at,
      );
    return this.getFlow(id)!;
  }

  updateFlow(id: string, config: FlowConfig): Flow | undefined {
    const result = this.db
      .prepare(
        'UPDATE flows SET name = ?, kind = ?, credential_id = ?, schedule = ?, config = ?, updated_at = ? WHERE id = ?',
      )
      .run(
        config.name,
        config.kind,
        config.credentialId,
        config.schedule ?? null,
        JSON.stringify(config),
        this.iso(),
        id,
      );
    return result.changes === 1 ? this.getFlow(id) : undefined;
  }

  setFlowStatus(id: string, status: FlowStatus): Flow | undefined {
    const at = this.iso();
    this.db
      .prepare(
        `UPDATE flows SET status = ?, updated_at = ?, activated_at = CASE WHEN ? = 'active' THEN ? ELSE activated_at END
         WHERE id = ?`,
      )
      .run(status, at, status, at, id);
    return this.getFlow(id);
  }

  getFlow(id: string): Flow | undefined {
    const row = this.db.prepare('SELECT * FROM flows WHERE id = ?').get(id) as FlowRow | undefined;
    return row ? toFlow(row) : undefined;
  }

  listFlows(): Flow[] {
    return (this.db.prepare('SELECT * FROM flows ORDER BY created_at, id').all() as FlowRow[]).map(toFlow);
  }

  flowsUsingCredential(credentialId: string): Flow[] {
    return (
      this.db
        .prepare('SELECT * FROM flows WHERE credential_id = ? ORDER BY name')
        .all(credentialId) as FlowRow[]
    ).map(toFlow);
  }

  deleteFlow(id: string): boolean {
    return this.db.prepare('DELETE FROM flows WHERE id = ?').run(id).changes === 1;
  }

  // --- runs -----------------------------------------------------------------------------------------

  startRun(flow: Flow, trigger: RunTrigger, dryRun = false): Run {
    const id = newId('run');
    this.db
      .prepare(
        `INSERT INTO flow_runs (id, flow_id, kind, trigger, status, started_at, dry_run)
         VALUES (?, ?, ?, ?, 'running', ?, ?)`,
      )
      .run(id, flow.id, flow.kind, trigger, this.iso(), dryRun ? 1 : 0);
    return this.getRun(id)!;
  }

  updateRunCounts(id: string, counts: RunCount[]): void {
    this.db.prepare('UPDATE flow_runs SET counts = ? WHERE id = ?').run(JSON.stringify(counts), id);
  }

  /** Ends a run; `analytics` absent keeps what the run recorded (a cancel after the fact). */
  finishRun(
    id: string,
    status: RunStatus,
    counts: RunCount[],
    errors: RunErrorInfo[],
    analytics?: RunAnalytics,
  ): Run {
    this.db
      .prepare(
        `UPDATE flow_runs SET status = ?, finished_at = ?, counts = ?, errors = ?,
         analytics = COALESCE(?, analytics) WHERE id = ?`,
      )
      .run(
        status,
        this.iso(),
        JSON.stringify(counts),
        JSON.stringify(errors),
        analytics ? JSON.stringify(analytics) : null,
        id,
      );
    return this.getRun(id)!;
  }

  /** Runs a previous process left `running` (it crashed or was stopped): they are failed now. */
  failInterruptedRuns(): number {
    return this.db
      .prepare(
        `UPDATE flow_runs SET status = 'failed', finished_at = ?,
         errors = '[{"code":"interrupted","message":"The server stopped while this run was going."}]'
         WHERE status = 'running'`,
      )
      .run(this.iso()).changes;
  }

  getRun(id: string): Run | undefined {
    const row = this.db.prepare('SELECT * FROM flow_runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  listRuns(filter: { flowId?: string; limit?: number; offset?: number } = {}): Run[] {
    const limit = filter.limit ?? 50;
    const offset = filter.offset ?? 0;
    const rows = filter.flowId
      ? this.db
          .prepare('SELECT * FROM flow_runs WHERE flow_id = ? ORDER BY started_at DESC, id LIMIT ? OFFSET ?')
          .all(filter.flowId, limit, offset)
      : this.db
          .prepare('SELECT * FROM flow_runs ORDER BY started_at DESC, id LIMIT ? OFFSET ?')
          .all(limit, offset);
    return (rows as RunRow[]).map(toRun);
  }

  lastRun(flowId: string, includeDryRuns = false): Run | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM flow_runs WHERE flow_id = ? ${includeDryRuns ? '' : 'AND dry_run = 0'}
         ORDER BY started_at DESC LIMIT 1`,
      )
      .get(flowId) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }
}
