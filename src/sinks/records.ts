import type { StreamShape, UpsertResult } from './types.js';

/** A custom field value as it appears in a record's `customFields` array. */
export interface CustomFieldEntry {
  fieldId: string;
  title: string | null;
  value: unknown;
}

/** Counts of a page before any record is written. */
export function emptyUpsertResult(newColumns: string[] = []): UpsertResult {
  return { inserted: 0, updated: 0, unchanged: 0, undeleted: 0, newColumns };
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

/** The page without repeated keys: the last occurrence of a key wins (it is the newest). */
export function dedupeByKey(
  shape: StreamShape,
  records: readonly Record<string, unknown>[],
): Array<Record<string, unknown>> {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const record of records) {
    const key = keyString(keyValues(shape, record));
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

/** The usable entries of a record's `customFields` (entries without an id are skipped; the last of a repeated id wins). */
export function customFieldEntries(record: Record<string, unknown>): CustomFieldEntry[] {
  const list = record.customFields;
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
