import { AshbyClient } from '../ashby/client.js';
import type { Control } from '../control/open.js';
import { accountLabels, credentialAccount } from '../push/account.js';
import { prepareRow, runPush } from '../push/engine.js';
import { getQuarantine, listQuarantine, type QuarantineEntry, setQuarantineStatus } from '../push/ledger.js';
import {
  assertReplayAccount,
  planReplay,
  ReplayAccountError,
  replayEntries,
  vouchedNotice,
} from '../push/replay.js';
import { defined } from '../util/defined.js';
import { pushCount } from './engines.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type {
  FlowEngine,
  QuarantineFilter,
  QuarantineItem,
  QuarantineService,
  RecordCheck,
  ReplayRequest,
  ReplayResult,
} from './services.js';

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A ledger quarantine entry as the API returns it: the record exactly as it was read. */
function toItem(e: QuarantineEntry, labels: ReadonlyMap<string, string>): QuarantineItem {
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
    account: labels.get(e.account) ?? e.account,
    ...defined({
      closedAt: e.closedAt ?? undefined,
      closedBy: e.closedBy ?? undefined,
      recordClearedAt: e.rawClearedAt ?? undefined,
    }),
  };
}

/** A replay to the wrong account, as the API's 409. */
async function refusedAs409<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (error) {
    if (error instanceof ReplayAccountError) throw new ConflictError(error.message, 'other_account');
    throw error;
  }
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
  constructor(private readonly control: Control) {}

  async list(filter: QuarantineFilter): Promise<QuarantineItem[]> {
    // The ledger filters by status and push run; flow and run tags live in the entry's options.
    const entries = await listQuarantine(this.control.db, {
      status: filter.status ?? 'open',
      ...(filter.operation ? { operation: filter.operation } : {}),
      limit: 1_000_000,
    });
    const page = entries
      .filter((e) => filter.flowId === undefined || text(e.options.flowId) === filter.flowId)
      .filter(
        (e) =>
          filter.runId === undefined ||
          text(e.options.flowRunId) === filter.runId ||
          e.runId === filter.runId,
      )
      .slice(filter.offset, filter.offset + filter.limit);
    const labels = await accountLabels(
      this.control,
      page.map((e) => e.account),
    );
    return page.map((e) => toItem(e, labels));
  }

  async get(id: string): Promise<QuarantineItem> {
    return this.item(await this.entry(id));
  }

  async close(id: string, status: 'resolved' | 'dismissed', closedBy = 'console'): Promise<QuarantineItem> {
    const n = parseId(id);
    // Read, check and close in one transaction: two people closing one entry get one 200 and one 409.
    const closed = await this.control.transaction(async (trx) => {
      const entry = await getQuarantine(trx, n);
      if (!entry) throw new NotFoundError('quarantine entry', id);
      if (entry.status !== 'open')
        throw new ConflictError(`quarantine entry ${id} is already ${entry.status}`, 'not_open');
      await setQuarantineStatus(trx, n, status, closedBy);
      return getQuarantine(trx, n);
    });
    if (!closed) throw new NotFoundError('quarantine entry', id);
    return this.item(closed);
  }

  private async item(e: QuarantineEntry): Promise<QuarantineItem> {
    return toItem(e, await accountLabels(this.control, [e.account]));
  }

  private async entry(id: string): Promise<QuarantineEntry> {
    const entry = await getQuarantine(this.control.db, parseId(id));
    if (!entry) throw new NotFoundError('quarantine entry', id);
    return entry;
  }

  async check(id: string, record: unknown): Promise<RecordCheck> {
    const entry = await this.entry(id);
    // The replay's own preparation, so that a record that passes here is not quarantined again for its shape.
    const plan = planReplay([entry], { fixed: new Map([[entry.id, record]]) });
    const row = plan.rows[0];
    if (!row) throw new Error('a replay plan of one entry has one row');
    const prepared = prepareRow(row, plan.operation, plan.mapping, plan.keyColumn);
    return prepared.ok
      ? { ok: true, issues: [], body: prepared.body }
      : { ok: false, issues: prepared.issues };
  }

  async replayEngine(ids: string[], result: ReplayResult, request: ReplayRequest = {}): Promise<FlowEngine> {
    const control = this.control;
    const entries = await Promise.all(ids.map((id) => this.entry(id)));
    for (const id of request.records?.keys() ?? [])
      if (!ids.includes(id)) throw new ValidationError(`records names entry ${id}, which is not in ids`);
    const operations = new Set(entries.map((e) => e.operation));
    if (operations.size !== 1)
      throw new ValidationError(
        `entries belong to several operations (${[...operations].join(', ')}); replay them one operation at a time`,
      );
    const fixed = new Map([...(request.records ?? [])].map(([id, record]) => [parseId(id), record]));
    const plan = await refusedAs409(async () => {
      const p = planReplay(entries, { fixed });
      // Refused before a run starts, with the entries' account and the flow's named.
      if (request.credentialId !== undefined)
        await assertReplayAccount(control, p, credentialAccount(request.credentialId));
      return p;
    });

    return async (flow, ctx) => {
      const { summary, closed, outcomeUnknown } = await replayEntries(plan, {
        control,
        dryRun: ctx.dryRun,
        closedBy: request.closedBy ?? 'replay',
        send: async ({ checkAccount, ...push }) => {
          const account = credentialAccount(flow.credentialId);
          await checkAccount(account);
          return runPush({
            ...push,
            client: new AshbyClient({ apiKey: ctx.apiKey, baseUrl: ctx.baseUrl }),
            control,
            account,
            dryRun: ctx.dryRun,
            inputLabel: `${push.inputLabel} (flow ${flow.name})`,
            replayOptions: { flowId: flow.id, flowRunId: ctx.runId },
            signal: ctx.signal,
          });
        },
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
