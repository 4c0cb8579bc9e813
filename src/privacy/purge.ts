/**
 * Automatic purge (`--on-delete purge`, `options.onDelete`): candidates Ashby deleted, merged away or no
 * longer returns are erased from the target the way `ashpipe erase` erases them — the same function,
 * {@link eraseFromTarget}, with an erasure record whose reason says why.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openControl } from '../control/open.js';
import { CONTROL_DB_FILE } from '../control/store.js';
import type { Sink } from '../sinks/index.js';
import { MERGED_INTO_COLUMN } from '../sinks/types.js';
import type { Logger } from '../util/logger.js';
import { type EraseReport, eraseFromControlStore, eraseFromTarget } from './erase.js';

/**
 * What happens to a candidate deleted in Ashby: `soft` marks the row deleted (`_ashpipe_deleted_at`), its
 * content stays; `purge` erases it and everything that hangs off it, as `ashpipe erase` does.
 */
export type OnDelete = 'soft' | 'purge';

/** Every value of {@link OnDelete}. */
export const ON_DELETE: readonly OnDelete[] = ['soft', 'purge'];

/** The reasons written into the erasure records of an automatic purge (no personal data). */
export const PURGE_REASON = {
  /** A `candidateDelete` webhook (or a merged candidate's re-read that Ashby no longer finds). */
  deleted: 'deleted in Ashby',
  /** The deleted side of a `candidateMerge` webhook, or a row a full pass found merged away. */
  merged: 'merged',
  /** A candidate a complete full pass of `candidates` no longer returned. */
  goneFromFullPass: 'gone from full pass',
} as const;

/** One of {@link PURGE_REASON}. */
export type PurgeReason = (typeof PURGE_REASON)[keyof typeof PURGE_REASON];

/** The candidates to erase and why; returns what went. */
export type CandidatePurge = (candidateIds: readonly string[], reason: PurgeReason) => Promise<EraseReport>;

/**
 * Reads `--on-delete` / `options.onDelete`.
 * @param where names the option in the error, e.g. `--on-delete` or `options.onDelete`
 * @throws Error naming the option, the value and the accepted ones
 */
export function parseOnDelete(value: unknown, where: string): OnDelete {
  if (value === undefined) return 'soft';
  if (value === 'soft' || value === 'purge') return value;
  throw new Error(`${where}: expected soft or purge, got ${JSON.stringify(value)}`);
}

/** Options of {@link candidatePurger}. */
export interface PurgerOptions {
  logger?: Logger;
  /** The clock of the erasure records (tests). */
  now?: () => Date;
  /**
   * The control store's side of a purge, as `ashpipe erase` does it: given the ids the purge removed, the
   * push quarantine entries and exactly-once ledger entries that name them go too.
   * @default none: the control store is left as it is
   * @example controlStoreEraser(resolveHome(process.env))
   */
  eraseFromControl?: (needles: readonly string[]) => Promise<void>;
}

/**
 * {@link PurgerOptions.eraseFromControl} for the control store of `home` (nothing to do when it has none),
 * or the PostgreSQL one of `url`: opened for each purge, so a long-running receiver holds no second
 * connection to it.
 * @example controlStoreEraser(resolveHome(process.env), controlUrl(undefined, process.env))
 */
export function controlStoreEraser(
  home: string,
  url?: string,
): (needles: readonly string[]) => Promise<void> {
  return async (needles) => {
    if (needles.length === 0) return;
    if (url === undefined && !existsSync(path.join(home, CONTROL_DB_FILE))) return;
    const control = await openControl({ home, ...(url !== undefined ? { url } : {}) });
    try {
      await eraseFromControlStore(control, needles);
    } finally {
      await control.close();
    }
  };
}

/**
 * A purge of `target`: each call is one {@link eraseFromTarget} (every stream's lock, one transaction, the
 * freed space overwritten, an erasure record with `reason`). Logs ids and counts only.
 */
export function candidatePurger(target: string, options: PurgerOptions = {}): CandidatePurge {
  return async (candidateIds, reason) => {
    const report = await eraseFromTarget(
      target,
      { candidateIds, emails: [] },
      { reason, ...(options.now ? { now: options.now } : {}) },
    );
    if (!report.dryRun && options.eraseFromControl) {
      await options.eraseFromControl([
        ...new Set([...candidateIds, ...report.candidateIds, ...report.applicationIds]),
      ]);
    }
    options.logger?.info('candidates purged', {
      reason,
      candidates: report.candidateIds.length,
      applications: report.applicationIds.length,
      tables: report.tables,
    });
    return report;
  };
}

/**
 * After a sync run: every soft-deleted candidate of the target is erased. A row deleted since `since`
 * (this run's start) was gone from this run's full pass; a row with a merge target went in a merge; any
 * other was deleted earlier (a webhook, a run before purge was turned on). One erasure per reason.
 */
export async function purgeDeletedCandidates(
  sink: Sink,
  purge: CandidatePurge,
  since: string,
): Promise<EraseReport[]> {
  const count = await sink.countRows('candidates');
  if (count.deleted === 0) return [];
  const byReason = new Map<PurgeReason, string[]>();
  for (const row of await sink.readRows('candidates', { includeDeleted: true })) {
    const deletedAt = row._ashpipe_deleted_at;
    if (typeof deletedAt !== 'string' || typeof row.id !== 'string') continue;
    const reason: PurgeReason =
      typeof row[MERGED_INTO_COLUMN] === 'string'
        ? PURGE_REASON.merged
        : deletedAt >= since
          ? PURGE_REASON.goneFromFullPass
          : PURGE_REASON.deleted;
    const list = byReason.get(reason) ?? [];
    list.push(row.id);
    byReason.set(reason, list);
  }
  const reports: EraseReport[] = [];
  for (const [reason, ids] of byReason) reports.push(await purge(ids, reason));
  return reports;
}
