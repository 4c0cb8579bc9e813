/**
 * Quarantine replay: sends quarantined records again through the same ledger, with the options of the
 * run that quarantined them. Shared by `ashpipe quarantine replay` and the server's replay route.
 */

import type { Control } from '../control/open.js';
import { defined } from '../util/defined.js';
import { accountLabel } from './account.js';
import type { PushOptions, PushSummary, RecordResult } from './engine.js';
import type { InputRow } from './input.js';
import { type QuarantineEntry, SHARED_ACCOUNT, setQuarantineStatus } from './ledger.js';
import { IDENTITY_MAPPING, type Mapping, mappingSchema } from './mapping.js';
import { operationOfEntry } from './operations/resolve.js';
import { OUTCOME_UNKNOWN } from './operations/shared.js';
import type { OnExisting, Operation } from './types.js';

/** Statuses a record leaves the quarantine with when a replay applied it (or found it applied). */
const APPLIED: ReadonlySet<string> = new Set(['created', 'updated', 'skipped-existing', 'skipped-done']);

/** What a replay pushes: the options of {@link PushOptions} that a replay decides. */
export interface ReplayPush {
  operation: Operation;
  rows: InputRow[];
  mapping: Mapping;
  onExisting: OnExisting;
  keyColumn?: string;
  /** @example 'quarantine replay 3,4' */
  inputLabel: string;
  /** Closes the entries whose records were applied; a caller's own `onResult` must call it too. */
  onResult: (result: RecordResult) => void;
  /** Record keys sent again on the person's word (see `PushOptions.resendInFlight`). */
  resendInFlight: string[];
  /**
   * Refuses an account the entries do not belong to ({@link assertReplayAccount}): the sender calls it
   * with the account it writes to before it sends anything.
   */
  checkAccount: (account: string) => Promise<void>;
}

/** A replay worked out from its entries, before anything is sent. */
export interface ReplayPlan {
  entries: readonly QuarantineEntry[];
  /**
   * The Ashby account the entries were quarantined on, which the replay must write to; {@link SHARED_ACCOUNT}
   * when every entry was written before accounts (any account may replay them).
   */
  account: string;
  operation: Operation;
  mapping: Mapping;
  onExisting: OnExisting;
  keyColumn?: string;
  /** One input row per entry, numbered from 1 in entry order. */
  rows: InputRow[];
}

/** Options of {@link planReplay}. */
export interface PlanReplayOptions {
  /**
   * Corrected records by entry id; an entry not in the map replays its stored raw record.
   * @example new Map([[12, { email: 'ada@example.com' }]])
   */
  fixed?: ReadonlyMap<number, unknown>;
  /** @default the mapping stored with the first entry, else every column keeps its name */
  mapping?: Mapping;
}

/**
 * Works out the operation, mapping and rows of a replay. The entries must be non-empty and of one
 * operation (callers check, each with its own wording); the first entry's stored options apply.
 */
export function planReplay(entries: readonly QuarantineEntry[], options: PlanReplayOptions = {}): ReplayPlan {
  const first = entries[0];
  if (!first) throw new Error('nothing to replay');
  const accounts = new Set(entries.map((e) => e.account).filter((a) => a !== SHARED_ACCOUNT));
  if (accounts.size > 1)
    throw new ReplayAccountError(
      `entries ${entries.map((e) => e.id).join(', ')} were quarantined on ${accounts.size} Ashby accounts; replay each account's entries through its own credential`,
    );
  const account = [...accounts][0] ?? SHARED_ACCOUNT;
  const operation = operationOfEntry(first.operation);
  let mapping: Mapping = IDENTITY_MAPPING;
  if (options.mapping !== undefined) mapping = options.mapping;
  else {
    const stored = mappingSchema.safeParse(first.options.mapping);
    if (stored.success) mapping = stored.data;
  }
  const onExisting =
    typeof first.options.onExisting === 'string' ? (first.options.onExisting as OnExisting) : 'skip';
  const keyColumn = typeof first.options.keyColumn === 'string' ? first.options.keyColumn : undefined;
  const { fixed } = options;
  const rows: InputRow[] = entries.map((e, i) => {
    const raw = fixed?.has(e.id) ? fixed.get(e.id) : e.raw;
    // An entry that fails again keeps its own key, and so its own entry.
    // …and its place in its input, so that a later push of that input knows it.
    const key = {
      ...(e.recordKey !== null ? { key: e.recordKey } : {}),
      inputKey: e.inputKey ?? `entry:${e.id}`,
    };
    return raw !== null && typeof raw === 'object' && !Array.isArray(raw)
      ? { row: i + 1, record: raw as Record<string, unknown>, raw, ...key }
      : {
          row: i + 1,
          error:
            e.rawClearedAt !== null && !fixed?.has(e.id)
              ? 'the input row was cleared at the end of the quarantine retention; push the record again from its source'
              : 'the quarantined row was not a record; fix it in the source and push it again',
          raw,
          ...key,
        };
  });
  return { entries, account, operation, mapping, onExisting, rows, ...defined({ keyColumn }) };
}

/** A replay through an account other than the one its entries were quarantined on. */
export class ReplayAccountError extends Error {
  override name = 'ReplayAccountError';
}

/**
 * Refuses a replay that would write to `account` entries quarantined on another Ashby account: that
 * account's records would go to the wrong organisation, and its entries be closed for a write it never
 * got. The message names both accounts (credential names, never a key). Entries written before
 * accounts may be replayed through any.
 */
export async function assertReplayAccount(
  control: Control,
  plan: ReplayPlan,
  account: string,
): Promise<void> {
  if (plan.account === SHARED_ACCOUNT || plan.account === account) return;
  const ids = plan.entries.map((e) => e.id).join(', ');
  const one = plan.entries.length === 1;
  throw new ReplayAccountError(
    `quarantine ${one ? 'entry' : 'entries'} ${ids} ${one ? 'belongs' : 'belong'} to ${await accountLabel(control, plan.account)}, not to ${await accountLabel(control, account)} that this replay would write to; replay through ${await accountLabel(control, plan.account)}`,
  );
}

/** Options of {@link replayEntries}. */
export interface ReplayOptions {
  /** The control store holding the quarantine and the ledger. */
  control: Control;
  /** Validate and look up only: nothing is marked or closed. @default false */
  dryRun?: boolean;
  /**
   * Who replays, recorded with the entries the replay closes.
   * @default 'replay'
   * @example 'ashpipe quarantine replay'
   */
  closedBy?: string;
  /** Runs the push (e.g. `runPush` with a client, or the CLI's push with its progress and summary). */
  send: (push: ReplayPush) => Promise<PushSummary>;
}

/** What {@link replayEntries} did. */
export interface ReplayOutcome {
  summary: PushSummary;
  /** Entries closed (status `replayed`). */
  closed: number[];
  /**
   * Entries whose write had an unknown outcome, by how the replay settled them: `reconciled` were looked
   * up by their natural key first (sent only when not found); `vouched` could not be looked up and were
   * sent again on the word of the person replaying them.
   */
  outcomeUnknown: { reconciled: number[]; vouched: number[] };
}

/** The notice shown when a replay resends writes whose outcome is unknown without a look-up. */
export function vouchedNotice(operation: string, ids: readonly number[]): string {
  return `${operation} has no look-up to check whether Ashby already has ${ids.length === 1 ? 'entry' : 'entries'} ${ids.join(', ')}; sent again on your word that it does not`;
}

/**
 * Replays a plan. An entry is closed (status `replayed`) when its record was applied (or found done or
 * existing) or quarantined again under another entry; one that failed again in place, or was not
 * reached, stays open. Entries are closed even when the push throws part-way.
 *
 * An entry whose write had an unknown outcome is reconciled as a rerun after a crash is (its ledger
 * entry stays in flight, so the operation looks its natural key up before sending) when the operation
 * can look it up; otherwise replaying it is the person's word that Ashby does not have it.
 */
export async function replayEntries(plan: ReplayPlan, options: ReplayOptions): Promise<ReplayOutcome> {
  const { control, dryRun = false } = options;
  const { entries } = plan;
  const unknown = entries.filter((e) => e.errorCode === OUTCOME_UNKNOWN);
  const canLookUp = plan.operation.reconcilable !== false;
  const outcomeUnknown = {
    reconciled: canLookUp ? unknown.map((e) => e.id) : [],
    vouched: canLookUp ? [] : unknown.map((e) => e.id),
  };
  // The push sets them back to pending once it owns the ledger of its account (the one that has them).
  const resendInFlight =
    !dryRun && !canLookUp ? unknown.flatMap((e) => (e.recordKey === null ? [] : [e.recordKey])) : [];
  const closed = new Set<number>();
  const summary = await options
    .send({
      operation: plan.operation,
      rows: plan.rows,
      mapping: plan.mapping,
      onExisting: plan.onExisting,
      inputLabel: `quarantine replay ${entries.map((e) => e.id).join(',')}`,
      resendInFlight,
      checkAccount: (account) => assertReplayAccount(control, plan, account),
      ...defined({ keyColumn: plan.keyColumn }),
      onResult: (r) => {
        const id = entries[r.row - 1]?.id;
        if (id === undefined || dryRun) return;
        const movedOn = r.status === 'quarantined' && r.quarantineId !== undefined && r.quarantineId !== id;
        if (APPLIED.has(r.status) || movedOn) closed.add(id);
      },
    })
    .finally(async () => {
      for (const id of closed)
        await setQuarantineStatus(control.db, id, 'replayed', options.closedBy ?? 'replay');
    });
  return { summary, closed: [...closed], outcomeUnknown };
}
