import type { Scope } from '../ashby/catalogue.js';
import type { FieldDef } from './fields.js';

/**
 * The part of the Ashby client the destination engine uses. `AshbyClient` satisfies it; tests may pass
 * anything with the same shape.
 */
export interface AshbyCaller {
  call<T = unknown>(
    endpoint: string,
    body?: Record<string, unknown>,
    options?: { signal?: AbortSignal },
  ): Promise<{ results: T; warnings: string[]; requestId?: string }>;
}

/** What happened to one input record. */
export type RecordStatus =
  | 'created'
  | 'updated'
  | 'skipped-existing'
  | 'skipped-done'
  | 'quarantined'
  | 'failed'
  /** `--dry-run`: valid, look-ups done, nothing sent. */
  | 'dry-run'
  /** Not applied because the run stopped first (a missing permission, a refused key, an interrupt); a rerun applies it. */
  | 'pending';

/** What to do when `candidate.create` finds a candidate with the same email. */
export type OnExisting = 'skip' | 'update' | 'create';

/** Progress an operation saved between its write requests. */
export interface ResumeState {
  /** Name of the last step whose write was started (`undefined` on a first attempt). */
  step: string | undefined;
  /** Data saved with {@link OperationContext.checkpoint} or {@link WriteOptions.data}. */
  data: Record<string, unknown>;
  /**
   * An earlier attempt sent a write whose outcome is unknown (a crash, or a timeout after the request
   * left): the operation must look for what it may have created before sending anything again.
   */
  reconciling: boolean;
}

/** Options of one write request. */
export interface WriteOptions {
  /** Step name recorded in the ledger before the request leaves. @default the endpoint name */
  step?: string;
  /** Data recorded with the step (what a reconciliation needs, e.g. ids that existed before). */
  data?: Record<string, unknown>;
}

/** What an operation sees while it handles one record. */
export interface OperationContext {
  /** The record, mapped, coerced and validated against the operation's fields. */
  readonly record: Record<string, unknown>;
  /** `--on-existing` policy of create operations. */
  readonly onExisting: OnExisting;
  /** Saved progress of an earlier attempt at this record. */
  readonly resume: ResumeState;
  readonly dryRun: boolean;
  /** A read (look-up): safe to retry, sent even in a dry run. */
  read<T = unknown>(endpoint: string, body: Record<string, unknown>): Promise<T>;
  /**
   * A write: the ledger is set to in-flight (with the step) and committed before the request leaves.
   * In a dry run the body is recorded and the operation is stopped there.
   */
  write<T = unknown>(endpoint: string, body: Record<string, unknown>, options?: WriteOptions): Promise<T>;
  /** Saves progress so that a rerun resumes after a completed step. */
  checkpoint(step: string, data: Record<string, unknown>): Promise<void>;
}

/** The result of one record. */
export interface OperationOutcome {
  status: 'created' | 'updated' | 'skipped-existing';
  /** Id of the Ashby object created or changed. */
  id?: string;
  /** The record was found by reconciliation rather than by a response. */
  reconciled?: boolean;
  /** Ids of other objects produced on the way (offer process, offer form). */
  detail?: Record<string, unknown>;
}

/** A destination operation: one file in `src/push/operations/`. */
export interface Operation {
  /** Name used with `--endpoint` and in the ledger, e.g. `candidate.create`. */
  readonly name: string;
  /** As Ashby's docs title it, e.g. "Create Candidate". */
  readonly title: string;
  /** Creates need reconciliation after an unknown outcome; updates are re-sent. */
  readonly kind: 'create' | 'update';
  /** Every endpoint the operation may call (reads and writes), for the scopes it needs. */
  readonly endpoints: readonly string[];
  /** Fields of the input record. */
  readonly fields: Readonly<Record<string, FieldDef>>;
  /** An input row that would be accepted (ids are placeholders). */
  readonly example: Readonly<Record<string, unknown>>;
  /** What the operation does, for `ashpipe operations`. */
  readonly description: string;
  /**
   * The ledger key of a record when `--key` is not given (default: a hash of the whole record). Used
   * where Ashby allows one object per key, so that a corrected record resumes instead of starting over.
   */
  ledgerKey?(record: Record<string, unknown>): string;
  /**
   * The key by which Ashby (or the operation's look-up) knows the object, e.g. a candidate's email.
   * Records of one run with the same natural key are handled one after the other, so that two rows
   * for one candidate never both find nothing and both create. `undefined`: the ledger key alone.
   * @example (record) => `email:${String(record.email).toLowerCase()}`
   */
  naturalKey?(record: Record<string, unknown>): string | undefined;
  /**
   * Ids of the Ashby objects that match the record's natural key (candidate by email, application by
   * candidate + job, …): what a reconciliation compares with the ids saved before the write. Manual mode
   * of the same endpoint reconciles through it too. `undefined`: the operation has no such look-up.
   */
  lookUp?(ctx: OperationContext): Promise<string[]>;
  /**
   * `false` when a write whose answer was lost cannot be settled by a look-up, so that only a person
   * can say whether Ashby has it (`quarantine replay` then resends on their word). @default true
   */
  readonly reconcilable?: boolean;
  /** Extra checks across fields, after coercion (e.g. candidate by id or by email). */
  check?(record: Record<string, unknown>): Array<{ path: string; reason: string }>;
  execute(ctx: OperationContext): Promise<OperationOutcome>;
}

/** Scopes an operation needs, derived from its endpoints. */
export interface OperationScopes {
  read: Scope[];
  write: Scope[];
}
