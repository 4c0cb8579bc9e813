/**
 * One schema change of the control store. Ids sort in the order they must be applied; name them
 * `NNNN-feature` (zero-padded) so that ordering by id is ordering by intent.
 * @example { id: '0001-credentials', up: 'CREATE TABLE credentials (...);' }
 */
export interface Migration {
  /** Unique, sortable id; recorded in `_ashpipe_migrations` once applied. */
  readonly id: string;
  /** SQLite statements, run in one transaction. */
  readonly up: string;
}
