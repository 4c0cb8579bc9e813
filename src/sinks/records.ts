import type { StreamShape, UpsertResult } from './types.js';

/** A custom field value as it appears in a record's array of custom field values. */
export interface CustomFieldEntry {
  fieldId: string;
  title: string | null;
  value: unknown;
}

/** Counts of a page before any record is written. */
export function emptyUpsertResult(newColumns: string[] = []): UpsertResult {
  return { inserted: 0, updated: 0, unchanged: 0, undeleted: 0, newColumns, notices: [], notStored: 0 };
}

/**
 * Longest key a record may have, in UTF-8 bytes: PostgreSQL cannot index a key much longer (about 2700
 * bytes), and Ashby's keys are UUIDs. A longer one is a hostile or broken record.
 */
export const MAX_KEY_BYTES = 1000;

/** Why a record cannot be stored under a key, or undefined when it can. */
function keyProblem(shape: StreamShape, record: Record<string, unknown>): string | undefined {
  let bytes = 0;
  for (const field of shape.primaryKey) {
    const value = record[field];
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))))
      return `no usable key field ${JSON.stringify(field)}`;
    bytes += Buffer.byteLength(String(value));
  }
  return bytes > MAX_KEY_BYTES ? `a key longer than ${MAX_KEY_BYTES} bytes` : undefined;
}

/**
 * The records of a page that can be stored, and a notice per kind of record that cannot (no usable key,
 * a key too long): one such record never fails its page, and so never stops its stream.
 */
export function storableRecords(
  shape: StreamShape,
  records: readonly Record<string, unknown>[],
): { records: Array<Record<string, unknown>>; notStored: number; notices: string[] } {
  const kept: Array<Record<string, unknown>> = [];
  const reasons = new Set<string>();
  for (const record of records) {
    const problem = keyProblem(shape, record);
    if (problem === undefined) kept.push(record);
    else reasons.add(problem);
  }
  return {
    records: kept,
    notStored: records.length - kept.length,
    notices: [...reasons].map((r) => `records with ${r} are not stored (see the log for their count)`),
  };
}

/** The record's key values, in key order; throws when a key field is missing or not a string/number. */
export function keyValues(shape: StreamShape, record: Record<string, unknown>): Array<string | number> {
  return shape.primaryKey.map((field) => {
    const value = record[field];
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) return value;
    throw new Error(`a record of stream ${shape.name} has no usable key field ${JSON.stringify(field)}`);
  });
}

/** A string identifying a key (for maps). */
export function keyString(values: readonly unknown[]): string {
  return JSON.stringify(values);
}

/** A map key for a single key value, distinct for each value and type (never equal to a {@link keyString}). */
function singleKeyString(value: string | number): string {
  return typeof value === 'string' ? `s${value}` : `n${value}`;
}

/** The page without repeated keys: the last occurrence of a key wins (it is the newest). */
export function dedupeByKey(
  shape: StreamShape,
  records: readonly Record<string, unknown>[],
  /** How a key value is stored (PostgreSQL's text cannot hold every string). @default as it is */
  stored: (value: string | number) => string | number = (v) => v,
): Array<Record<string, unknown>> {
  const byKey = new Map<string, Record<string, unknown>>();
  const single = shape.primaryKey.length === 1 ? shape.primaryKey[0] : undefined;
  for (const record of records) {
    const value = single === undefined ? undefined : record[single];
    // A single string or number key needs no JSON (the prefix keeps 1 and "1" apart); others go the long way.
    const key =
      typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
        ? singleKeyString(stored(value))
        : keyString(keyValues(shape, record).map(stored));
    byKey.delete(key);
    byKey.set(key, record);
  }
  return [...byKey.values()];
}

/** The id `custom_field_values.object_id` uses: the record's `id`, else its whole key. */
export function objectIdOf(shape: StreamShape, record: Record<string, unknown>): string {
  const id = record.id;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  return keyString(keyValues(shape, record));
}

/** Where records keep their custom field values unless their stream says otherwise. */
export const DEFAULT_CUSTOM_FIELDS_PATH: readonly string[] = ['customFields'];

/** The keys leading to a stream's custom field values. */
export function customFieldsPathOf(shape: StreamShape): readonly string[] {
  return shape.customFieldsPath ?? DEFAULT_CUSTOM_FIELDS_PATH;
}

/**
 * The usable entries of a record's custom field values at `path` (entries without an id are skipped;
 * the last of a repeated id wins).
 */
export function customFieldEntries(
  record: Record<string, unknown>,
  path: readonly string[] = DEFAULT_CUSTOM_FIELDS_PATH,
): CustomFieldEntry[] {
  let list: unknown = record;
  for (const key of path) {
    if (typeof list !== 'object' || list === null || Array.isArray(list)) return [];
    list = (list as Record<string, unknown>)[key];
  }
  if (!Array.isArray(list)) return [];
  const byId = new Map<string, CustomFieldEntry>();
  for (const item of list as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const entry = item as Record<string, unknown>;
    if (typeof entry.id !== 'string' || entry.id === '') continue;
    byId.set(entry.id, {
      fieldId: entry.id,
      title: typeof entry.title === 'string' ? entry.title : null,
      value: entry.value === undefined ? null : entry.value,
    });
  }
  return [...byId.values()];
}

/** Identifies a pass of a stream in a set. */
export function passKey(stream: string, passId: string): string {
  return `${stream}\u0000${passId}`;
}

/** The record a stored row holds: `_ashpipe_raw` parsed (text in SQLite, an object from PostgreSQL jsonb). */
export function storedRecordOf(row: Record<string, unknown>): Record<string, unknown> | undefined {
  const raw = row._ashpipe_raw;
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
  return raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : undefined;
}
