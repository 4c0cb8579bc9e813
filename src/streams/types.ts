import type { Scope } from '../ashby/catalogue.js';

/** Object types whose records carry custom field values ({id, title, value} entries). */
export type CustomFieldsObjectType =
  | 'Candidate'
  | 'Application'
  | 'Job'
  | 'Opening'
  | 'Offer'
  | 'Talent_Project'
  | 'Employee';

/** Ids of confidential records seen so far, shared by the streams of one sync run. */
export interface ConfidentialContext {
  /** Jobs marked `confidential: true`. */
  readonly jobIds: Set<string>;
  /** Applications to confidential jobs. */
  readonly applicationIds: Set<string>;
  /** Talent projects marked `confidential: true`. */
  readonly projectIds: Set<string>;
}

/** Which set of the {@link ConfidentialContext} a stream's dropped ids go into. */
export type ConfidentialKind = keyof ConfidentialContext;

/** Options that shape the request body of every stream. */
export interface BodyOptions {
  /** Ask for archived, deactivated and disabled records too. */
  includeArchived: boolean;
}

/** A child stream iterates the live rows of its parent stream, one request (or pass) per parent. */
export interface ParentLink {
  readonly kind: 'stream';
  /** Name of the parent stream (its table is read after it synced). */
  readonly stream: string;
  /** Field of the parent record whose value goes into the body. */
  readonly field: string;
  /** Body parameter that receives the parent's value. */
  readonly param: string;
}

/**
 * The usual parent link: one request per live row of `stream`, its `id` sent as `param`.
 * @example perParent('candidates', 'candidateId')
 */
export function perParent(stream: string, param: string): ParentLink {
  return { kind: 'stream', stream, field: 'id', param };
}

/** A stream whose endpoint needs one of a fixed set of values (e.g. `surveySubmission.list` needs `surveyType`). */
export interface FanOut {
  readonly kind: 'values';
  readonly param: string;
  readonly values: readonly string[];
}

/** Everything ashpipe knows about one stream. Adding a stream is one file like this and one registry line. */
export interface StreamDefinition {
  /** Table name: snake_case plural (`interview_stages`). */
  readonly name: string;
  /** The Ashby list endpoint that reads it. */
  readonly endpoint: string;
  /** Record fields forming the key. */
  readonly primaryKey: readonly string[];
  /** Short human description, shown by `ashpipe streams`. */
  readonly description: string;
  /** Request body defaults (archived records are asked for unless the user opts out). */
  readonly body?: (options: BodyOptions) => Record<string, unknown>;
  /** Also write the records' custom field values to `custom_field_values`, under this object type. */
  readonly customFieldsObjectType?: CustomFieldsObjectType;
  /**
   * Where a record keeps its custom field values: the keys leading to the array of {id, title, value}
   * entries. Offers and openings keep theirs on the latest version, projects in `customFieldEntries`.
   * @default ['customFields']
   * @example ['latestVersion', 'customFields']
   */
  readonly customFieldsPath?:
    | readonly ['customFields']
    | readonly ['latestVersion', 'customFields']
    | readonly ['customFieldEntries'];
  readonly parent?: ParentLink | FanOut;
  /**
   * Synced only when asked for by name (`--streams`): a child stream that costs one request per parent
   * record is too expensive to run on every sync by default.
   */
  readonly optIn?: boolean;
  /**
   * For `--exclude-confidential`: true when the record is confidential or hangs off a confidential job,
   * application or project. Reads the ids gathered so far in `ctx`.
   */
  readonly confidential?: (record: Record<string, unknown>, ctx: ConfidentialContext) => boolean;
  /** Where the ids this stream drops as confidential are remembered, for the streams that hang off them. */
  readonly confidentialKind?: ConfidentialKind;
  /** Streams whose confidential ids this stream needs (they run first under `--exclude-confidential`). */
  readonly confidentialAfter?: readonly string[];
  /**
   * Streams without a sync token: how long a complete read stays fresh before a run reads the stream again
   * (`--refresh-after` overrides it, `--refresh` ignores it). Slow-moving configuration keeps the default;
   * records that change during the day (approvals, survey submissions) get a shorter one.
   * @default 24 hours
   * @example 3_600_000
   */
  readonly refreshAfterMs?: number;
  /** A caveat shown by `ashpipe streams` (e.g. an endpoint added in 2026 whose shape is not documented). */
  readonly note?: string;
  /**
   * A child stream that, after its first full pass, re-reads only the parents changed since its last pass
   * (by the parent's `updatedAt`) instead of every parent; `--full-refresh` and the reconcile read them all.
   */
  readonly changedParents?: ChangedParents;
}

/** How a {@link StreamDefinition.changedParents} stream reads one parent and turns its answer into rows. */
export interface ChangedParents {
  /**
   * A single-record endpoint whose record carries the same list, used when the key or account does not
   * serve the list endpoint (`application.info` has `applicationHistory`).
   * @example { endpoint: 'application.info', field: 'applicationHistory' }
   */
  readonly fallback?: { readonly endpoint: string; readonly field: string };
  /** The rows stored for one parent's records (the records of a parent arrive all at once, in order). */
  readonly rows: (parentId: string, records: readonly unknown[]) => unknown[];
}

/** A stream definition with the catalogue facts resolved. */
export interface ResolvedStream extends StreamDefinition {
  /** The endpoint accepts a `syncToken` and the stream reads it as one list (not per parent). */
  readonly incremental: boolean;
  readonly paginated: boolean;
  readonly scope: Scope;
  /** `Candidates: Read` */
  readonly permission: string;
  /** `candidatesRead (Candidates: Read)` */
  readonly module: string;
  /** What one full pass costs in requests, for a person. */
  readonly cost: string;
}
