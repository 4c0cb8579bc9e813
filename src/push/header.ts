/**
 * The check of an input's header against an operation, before any row is read: a header that cannot map
 * (a required field with no column, columns the operation does not know) would send every row to
 * quarantine, so it is one error up front instead.
 */
import { closest } from '../util/similar.js';
import type { Mapping } from './mapping.js';
import type { Operation } from './types.js';

/** Why a header cannot map to an operation; `undefined` when it can. */
export interface HeaderProblem {
  /** Required fields no column (or constant) provides. */
  missing: string[];
  /** Columns whose field the operation does not know, each with the fields it may have meant. */
  unknown: Array<{ column: string; field: string; near: string[] }>;
  /** The columns the operation reads, required ones marked: what the header should hold. */
  expected: string[];
}

/** The field a column lands in under the mapping (its first segment), or `null` when it is dropped. */
function fieldOf(column: string, mapping: Mapping): string | null {
  const rule = Object.hasOwn(mapping.columns, column) ? mapping.columns[column] : undefined;
  if (rule === null) return null;
  const target = typeof rule === 'string' ? rule : (rule?.to ?? column);
  return target.split('.')[0] ?? target;
}

/**
 * Checks the input's columns, as the mapping renames and drops them, against the operation's fields.
 * Operations without declared fields (manual mode) accept any header.
 * @example checkHeader(['fullName', 'email'], candidateCreate, IDENTITY_MAPPING) // name missing, fullName unknown
 */
export function checkHeader(
  columns: readonly string[],
  operation: Operation,
  mapping: Mapping,
  keyColumn?: string,
): HeaderProblem | undefined {
  const known = Object.keys(operation.fields);
  if (known.length === 0) return undefined;
  const provided = new Set<string>();
  const unknown: HeaderProblem['unknown'] = [];
  for (const column of columns) {
    const field = fieldOf(column, mapping);
    if (field === null || column.trim() === '') continue;
    if (Object.hasOwn(operation.fields, field)) provided.add(field);
    else if (!mapping.ignoreUnknown && column !== keyColumn)
      unknown.push({ column, field, near: closest(field, known) });
  }
  for (const target of Object.keys(mapping.constants)) provided.add(target.split('.')[0] ?? target);
  const missing = known.filter((f) => operation.fields[f]?.required && !provided.has(f));
  if (missing.length === 0 && unknown.length === 0) return undefined;
  return {
    missing,
    unknown,
    expected: known.map((f) => (operation.fields[f]?.required ? `${f} (required)` : f)),
  };
}

/** The problem in one paragraph for a person, naming the input, the operation and what to do. */
export function describeHeaderProblem(input: string, operation: string, problem: HeaderProblem): string {
  const parts: string[] = [];
  if (problem.missing.length > 0) parts.push(`no column for the required ${problem.missing.join(', ')}`);
  if (problem.unknown.length > 0)
    parts.push(
      `${operation} has no field ${problem.unknown
        .map((u) => {
          const as = u.field === u.column ? `"${u.column}"` : `"${u.field}" (column "${u.column}")`;
          return u.near.length > 0 ? `${as} (did you mean ${u.near.join(' or ')}?)` : as;
        })
        .join(', ')}`,
    );
  const hint = problem.unknown.find((u) => u.near.length > 0);
  const first = problem.unknown[0];
  const example = hint
    ? `{"columns": {"${hint.column}": "${hint.near[0]}"}}`
    : first && problem.missing[0]
      ? `{"columns": {"${first.column}": "${problem.missing[0]}"}}`
      : `{"columns": {"${first?.column ?? 'Your column'}": null}}`;
  return (
    `${input}: the header cannot map to ${operation}: ${parts.join('; ')}. ` +
    `Expected columns: ${problem.expected.join(', ')}. ` +
    `Rename the columns, or map them with --map FILE, e.g. ${example}; nothing was sent.`
  );
}
