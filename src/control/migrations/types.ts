/**
 * One schema change of the control store. Ids sort in the order they must be applied; name them
 * `NNNN-feature` (zero-padded) so that ordering by id is ordering by intent. A migration has one form per
 * dialect under the same id, so both stores record the same history; the PostgreSQL form may reach the
 * same end state by another road (e.g. altering a CHECK where SQLite must rebuild the table).
 * @example { id: '0001-credentials', up: 'CREATE TABLE credentials (...);', postgres: 'CREATE TABLE credentials (...);' }
 */
export interface Migration {
  /** Unique, sortable id; recorded in `_ashpipe_migrations` once applied. */
  readonly id: string;
  /** SQLite statements, run in one transaction. */
  readonly up: string;
  /**
   * PostgreSQL statements, run in one transaction. A migration without them cannot be applied to a
   * PostgreSQL control store, which then refuses to open.
   * @default none
   */
  readonly postgres?: string;
}
