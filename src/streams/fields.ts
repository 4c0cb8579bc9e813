/** Reads a string at a dotted path of an untrusted record; `undefined` when absent or not a string. */
export function stringAt(record: unknown, path: string): string | undefined {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return typeof value === 'string' ? value : undefined;
}

/** Reads an array of strings at a dotted path; empty when absent. */
export function stringsAt(record: unknown, path: string): string[] {
  let value: unknown = record;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return [];
    value = (value as Record<string, unknown>)[part];
  }
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** True when the id at `path` is in `ids`. */
export function idIn(record: unknown, path: string, ids: ReadonlySet<string>): boolean {
  if (ids.size === 0) return false;
  const id = stringAt(record, path);
  return id !== undefined && ids.has(id);
}
