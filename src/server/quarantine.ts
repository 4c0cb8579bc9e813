import { AshbyClient } from '../ashby/client.js';
import { runPush } from '../push/engine.js';
import { getQuarantine, listQuarantine, type QuarantineEntry, setQuarantineStatus } from '../push/ledger.js';
import { planReplay, replayEntries, vouchedNotice } from '../push/replay.js';
import type { SqliteDatabase } from '../util/sqlite.js';
import { pushCount } from './engines.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type {
  FlowEngine,
  QuarantineFilter,
  QuarantineItem,
  QuarantineService,
  ReplayResult,
} from './services.js';

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A ledger quarantine entry as the API returns it: the record exactly as it was read. */
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
    record: e.raw,
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
  constructor(private readonly db: SqliteDatabase) {}

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

  close(id: string, status: 'resolved' | 'dismissed'): QuarantineItem {
    const n = parseId(id);
    return this.db.transaction(() => {
      const entry = getQuarantine(this.db, n);
      if (!entry) throw new NotFoundError('quarantine entry', id);
      if (entry.status !== 'open')
        throw new ConflictError(`quarantine entry ${id} is already ${entry.status}`, 'not_open');
      setQuarantineStatus(this.db, n, status);
      return this.get(id);
    })();
  }

  replayEngine(ids: string[], result: ReplayResult): FlowEngine {
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
    const plan = planReplay(entries);

    return async (flow, ctx) => {
      const { summary, closed, outcomeUnknown } = await replayEntries(plan, {
        db,
        dryRun: ctx.dryRun,
        send: (push) =>
          runPush({
            ...push,
            client: new AshbyClient({ apiKey: ctx.apiKey, baseUrl: ctx.baseUrl }),
            db,
            dryRun: ctx.dryRun,
            inputLabel: `${push.inputLabel} (flow ${flow.name})`,
            replayOptions: { flowId: flow.id, flowRunId: ctx.runId },
            signal: ctx.signal,
          }),
      });
      result.replayed = closed.length;
      result.failed = entries.length - closed.length;
      if (outcomeUnknown.vouched.length > 0) {
        result.reconciled = false;
        result.notice = vouchedNotice(plan.operation.name, outcomeUnknown.vouched);
      } else if (outcomeUnknown.reconciled.length > 0) result.reconciled = true;
      const { count, problems } = pushCount(plan.operation.name, summary);
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
