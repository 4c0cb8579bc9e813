import { userInfo } from 'node:os';
import type { ControlStore } from '../control/store.js';
import { redact } from '../util/redact.js';
import type { AuditAction, AuditEntry } from './types.js';

/** An entry to record; `id` and `at` are assigned, `actor` defaults to the OS user. */
export interface AuditInput {
  action: AuditAction;
  /**
   * Who did it.
   * @default the OS user name (`os.userInfo().username`)
   * @example 'console:alice@example.com'
   */
  actor?: string;
  credentialId?: string;
  credentialName?: string;
  /** @example 'sync' */
  purpose?: string;
  /** @default 'ok' */
  outcome?: 'ok' | 'failed';
  detail?: string;
}

/** The OS user running this process; `unknown` where the platform cannot tell. */
function currentActor(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Appends one entry to the credential audit log (details pass through redaction first). */
export function recordAudit(store: ControlStore, entry: AuditInput): void {
  store.db
    .prepare(
      `INSERT INTO credential_audit (at, actor, action, credential_id, credential_name, purpose, outcome, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      new Date().toISOString(),
      entry.actor ?? currentActor(),
      entry.action,
      entry.credentialId ?? null,
      entry.credentialName ?? null,
      entry.purpose ?? null,
      entry.outcome ?? 'ok',
      entry.detail === undefined ? null : redact(entry.detail),
    );
}

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: AuditAction;
  credential_id: string | null;
  credential_name: string | null;
  purpose: string | null;
  outcome: 'ok' | 'failed';
  detail: string | null;
}

/**
 * Audit entries, oldest first; for one credential when `credential` is given (matched by id, or by the
 * name it had when the entry was written, so a deleted credential's history stays readable).
 */
export function readAudit(store: ControlStore, credential?: { id?: string; name: string }): AuditEntry[] {
  const rows = (
    credential
      ? store.db
          .prepare(
            'SELECT * FROM credential_audit WHERE credential_id = ? OR credential_name = ? ORDER BY id',
          )
          .all(credential.id ?? null, credential.name)
      : store.db.prepare('SELECT * FROM credential_audit ORDER BY id').all()
  ) as AuditRow[];
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    outcome: r.outcome,
    ...(r.credential_id === null ? {} : { credentialId: r.credential_id }),
    ...(r.credential_name === null ? {} : { credentialName: r.credential_name }),
    ...(r.purpose === null ? {} : { purpose: r.purpose }),
    ...(r.detail === null ? {} : { detail: r.detail }),
  }));
}
