import { userInfo } from 'node:os';
import type { Kysely } from 'kysely';
import type { ControlDatabase } from '../control/schema.js';
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

/**
 * Appends one entry to the credential audit log (details pass through redaction first). Inside a vault
 * change, pass the change's transaction so the entry commits (or rolls back) with it.
 */
export async function recordAudit(db: Kysely<ControlDatabase>, entry: AuditInput): Promise<void> {
  await db
    .insertInto('credential_audit')
    .values({
      at: new Date().toISOString(),
      actor: entry.actor ?? currentActor(),
      action: entry.action,
      credential_id: entry.credentialId ?? null,
      credential_name: entry.credentialName ?? null,
      purpose: entry.purpose ?? null,
      outcome: entry.outcome ?? 'ok',
      detail: entry.detail === undefined ? null : redact(entry.detail),
    })
    .execute();
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
export async function readAudit(
  db: Kysely<ControlDatabase>,
  credential?: { id?: string; name: string },
): Promise<AuditEntry[]> {
  let query = db.selectFrom('credential_audit').selectAll().orderBy('id');
  if (credential) {
    const { id, name } = credential;
    query = query.where((eb) =>
      id === undefined
        ? eb('credential_name', '=', name)
        : eb.or([eb('credential_id', '=', id), eb('credential_name', '=', name)]),
    );
  }
  const rows = (await query.execute()) as AuditRow[];
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
