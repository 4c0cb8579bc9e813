import type Database from 'better-sqlite3';
import { AshbyClient } from '../ashby/client.js';
import { resolveOperation } from '../cli/commands/push.js';
import { runPush } from '../push/engine.js';
import type { InputRow } from '../push/input.js';
import {
  getQuarantine,
  listQuarantine,
  markNotSent,
  type QuarantineEntry,
  setQuarantineStatus,
} from '../push/ledger.js';
import { IDENTITY_MAPPING, type Mapping, mappingSchema } from '../push/mapping.js';
import { OUTCOME_UNKNOWN } from '../push/operations/shared.js';
import type { OnExisting } from '../push/types.js';
import { redactDeep } from '../util/redact.js';
import { pushCount } from './engines.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { FlowEngine, QuarantineFilter, QuarantineItem, QuarantineService } from './services.js';

/** Statuses a record leaves the quarantine with when a replay applied it (or found it applied). */
const APPLIED = new Set(['created', 'updated', 'skipped-existing', 'skipped-done']);

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A ledger quarantine entry as the API returns it (the raw record redacted). */
export function toItem(e: QuarantineEntry): QuarantineItem {
  const flowId = text(e.options.flowId);
  const runId = text(e.options.flowRunId);
  return {
    id: String(e.id),
    ...(flowId ? { flowId } : {}),
    ...(runId ? { runId } : {}),
    pushRunId: e.runId,
    operation: e.operation,
    ...(e.rowNumber !== null ? { row: e.rowNumber, source: `row ${e.rowNumber}` } : {}),
    ...(e.fieldPath !== null ? { fieldPath: e.fieldPath } : {}),
    ...(e.requestId !== null ? { requestId: e.requestId } : {}),
    record: redactDeep(e.raw),
    errorCode: e.errorCode,
    errorMessage: e.errorMessage,
    createdAt: e.at,
    status: e.status,
  };
}

function parseId(id: string): number {
  const n = Number(id);
  if (!Number.isInteger(n) || n < 1) throw new NotFoundError('quarantine entry', id);
  return n;
}

/**
 * The push engine's quarantine (in the control store), seen by the server: entries are tagged with the
 * flow and run that quarantined them, and a replay sends them through the same ledger as the CLI's
 * `quarantine replay` (an entry is closed once its record is applied or moved to another entry).
 */
export class LedgerQuarantineService implements QuarantineService {
  constructor(private readonly db: Database.Database) {}

  list(filter: QuarantineFilter): QuarantineItem[] {
    // The ledger filters by status and push run; flow and run tags live in the entry's options.
    const entries = listQuarantine(this.db, {
      status: filter.status ?? 'open',
      ...(filter.operation ? { operation: filter.operation } : {}),
      limit: 1_000_000,
    });
    return entries
      .map(toItem)
      .filter((i) => filter.flowId === undefined || i.flowId === filter.flowId)
      .filter((i) => filter.runId === undefined || i.runId === filter.runId || i.pushRunId === filter.runId)
      .slice(filter.offset, filter.offset + filter.limit);
  }

  get(id: string): QuarantineItem {
    const entry = getQuarantine(this.db, parseId(id));
    if (!entry) throw new NotFoundError('quarantine entry', id);
    return toItem(entry);
  }

  replayEngine(ids: string[], result: { replayed: number; failed: number }): FlowEngine {
    const db = this.db;
    const entries = ids.map((id) => {
      const entry = getQuarantine(db, parseId(id));
      if (!entry) throw new NotFoundError('quarantine entry', id);
      return entry;
    });
    const operations = new Set(entries.map((e) => e.operation));
    if (operations.size !== 1)
      throw new ValidationError(
        `entries belong to several operations (${[...operations].join(', ')}); replay them one operation at a time`,
      );
    const first = entries[0] as QuarantineEntry;
    const manual = first.operation.startsWith('endpoint:');
    const operation = resolveOperation(
      manual ? first.operation.slice('endpoint:'.length) : first.operation,
      manual,
    );
    const stored = mappingSchema.safeParse(first.options.mapping);
    const mapping: Mapping = stored.success ? stored.data : IDENTITY_MAPPING;
    const onExisting = (text(first.options.onExisting) as OnExisting | undefined) ?? 'skip';
    const keyColumn = text(first.options.keyColumn);

    return async (flow, ctx) => {
      const byRow = new Map<number, number>();
      const rows: InputRow[] = entries.map((e, i) => {
        byRow.set(i + 1, e.id);
        return e.raw !== null && typeof e.raw === 'object' && !Array.isArray(e.raw)
          ? { row: i + 1, record: e.raw as Record<string, unknown>, raw: e.raw }
          : {
              row: i + 1,
              error: 'the quarantined row was not a record; fix it in the source and push it again',
              raw: e.raw,
            };
      });
      if (!ctx.dryRun) {
        // Replaying an entry whose outcome was unknown is the person's word that Ashby does not have it.
        for (const e of entries)
          if (e.errorCode === OUTCOME_UNKNOWN && e.recordKey !== null)
            markNotSent(db, e.operation, e.recordKey, 'pending', null);
      }
      const closed = new Set<number>();
      const summary = await runPush({
        client: new AshbyClient({ apiKey: ctx.apiKey, baseUrl: ctx.baseUrl }),
        db,
        operation,
        rows,
        mapping,
        onExisting,
        dryRun: ctx.dryRun,
        inputLabel: `quarantine replay ${entries.map((e) => e.id).join(',')} (flow ${flow.name})`,
        replayOptions: { flowId: flow.id, flowRunId: ctx.runId },
        signal: ctx.signal,
        ...(keyColumn !== undefined ? { keyColumn } : {}),
        onResult: (r) => {
          const id = byRow.get(r.row);
          if (id === undefined || ctx.dryRun) return;
          const movedOn = r.status === 'quarantined' && r.quarantineId !== undefined && r.quarantineId !== id;
          if (APPLIED.has(r.status) || movedOn) closed.add(id);
        },
      }).finally(() => {
        for (const id of closed) setQuarantineStatus(db, id, 'replayed');
      });
      result.replayed = closed.size;
      result.failed = entries.length - closed.size;
      const { count, problems } = pushCount(operation.name, summary);
      return {
        status:
          summary.stopped && summary.stopped.kind !== 'aborted'
            ? 'failed'
            : problems > 0
              ? 'partial'
              : 'succeeded',
        counts: [count],
        errors: summary.stopped ? [{ code: summary.stopped.kind, message: summary.stopped.message }] : [],
      };
    };
  }
}
