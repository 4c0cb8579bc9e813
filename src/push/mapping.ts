import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { FieldIssue } from './fields.js';

const columnRule = z.union([
  z.string().min(1),
  z.null(),
  z
    .object({
      to: z.string().min(1).optional(),
      split: z.string().min(1).optional(),
    })
    .strict(),
]);

/**
 * The `--map` file: how input columns become the operation's fields.
 * @example
 * {
 *   "columns": { "E-mail": "email", "Tags": { "to": "tagIds", "split": ";" }, "Internal notes": null },
 *   "constants": { "sourceId": "5b3c…" },
 *   "ignoreUnknown": true
 * }
 */
export const mappingSchema = z
  .object({
    /**
     * Column name → target field path (dotted for nested fields), `null` to drop the column, or
     * `{to, split}` to rename and split a list. Columns not named keep their name.
     */
    columns: z.record(columnRule).default({}),
    /** Field path → value set on every record (a column with the same target loses). */
    constants: z.record(z.unknown()).default({}),
    /** Field path → separator for list fields whose column keeps its name. */
    split: z.record(z.string().min(1)).default({}),
    /**
     * Drop fields the operation does not know instead of quarantining the record.
     * @default false
     */
    ignoreUnknown: z.boolean().default(false),
  })
  .strict();

/** A parsed `--map` file. */
export type Mapping = z.infer<typeof mappingSchema>;

/** The mapping used without `--map`: every column keeps its name. */
export const IDENTITY_MAPPING: Mapping = { columns: {}, constants: {}, split: {}, ignoreUnknown: false };

/** Reads and checks a `--map` file; throws a readable error for a bad one. */
export function loadMapping(file: string): Mapping {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the mapping ${file}: ${(error as Error).message}`);
  }
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`invalid mapping ${file}: ${first?.path.join('.') || '(root)'}: ${first?.message}`);
  }
  return parsed.data;
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Turns a flat input record into the nested record the operation reads: renames, drops and splits
 * columns, expands dotted names (`location.city` → `{location: {city}}`, `socialLinks.0.url` → a list),
 * and applies constants.
 */
export function applyMapping(
  flat: Record<string, unknown>,
  mapping: Mapping,
): { ok: true; value: Record<string, unknown> } | { ok: false; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const root: Record<string, unknown> = Object.create(null);
  const seen = new Map<string, string>();
  const place = (target: string, value: unknown, column: string) => {
    const earlier = seen.get(target);
    if (earlier !== undefined) {
      issues.push({ path: target, reason: `columns "${earlier}" and "${column}" both map to this field` });
      return;
    }
    seen.set(target, column);
    setPath(root, target, value, issues);
  };
  for (const [column, value] of Object.entries(flat)) {
    const rule = Object.hasOwn(mapping.columns, column) ? mapping.columns[column] : undefined;
    if (rule === null) continue;
    const target = typeof rule === 'string' ? rule : (rule?.to ?? column);
    const separator = (typeof rule === 'object' ? rule?.split : undefined) ?? mapping.split[target];
    let v = value;
    if (separator !== undefined && typeof v === 'string') {
      v = v.trim() === '' ? [] : v.split(separator).map((s) => s.trim());
    }
    place(target, v, column);
  }
  for (const [target, value] of Object.entries(mapping.constants)) {
    if (seen.has(target)) continue;
    seen.set(target, '(constant)');
    setPath(root, target, value, issues);
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: arraysFromIndexes(root) as Record<string, unknown> };
}

function setPath(root: Record<string, unknown>, target: string, value: unknown, issues: FieldIssue[]): void {
  const segments = target.split('.');
  if (segments.some((s) => s === '' || FORBIDDEN_SEGMENTS.has(s))) {
    issues.push({ path: target, reason: 'is not a usable field name' });
    return;
  }
  let node = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const seg = segments[i] as string;
    const next = node[seg];
    if (next === undefined) {
      const created: Record<string, unknown> = Object.create(null);
      node[seg] = created;
      node = created;
    } else if (next !== null && typeof next === 'object' && !Array.isArray(next)) {
      node = next as Record<string, unknown>;
    } else {
      issues.push({
        path: target,
        reason: `"${segments.slice(0, i + 1).join('.')}" is both a value and an object`,
      });
      return;
    }
  }
  const last = segments[segments.length - 1] as string;
  if (Object.hasOwn(node, last) && typeof node[last] === 'object' && node[last] !== null) {
    issues.push({ path: target, reason: 'is both a value and an object' });
    return;
  }
  node[last] = value;
}

/** Objects whose keys are exactly 0..n-1 (from `links.0.url`-style columns) become lists. */
function arraysFromIndexes(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => [k, arraysFromIndexes(v)] as const,
  );
  const keys = entries.map(([k]) => k);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    const sorted = [...keys].map(Number).sort((a, b) => a - b);
    if (sorted.every((n, i) => n === i)) {
      const list: unknown[] = [];
      for (const [k, v] of entries) list[Number(k)] = v;
      return list;
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[k] = v;
  return out;
}
