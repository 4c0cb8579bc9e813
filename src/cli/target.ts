import { existsSync, statSync } from 'node:fs';
import { UsageError } from './exit-codes.js';

/** File extensions that mean a SQLite target when `--to` is a bare path. */
export const SQLITE_EXTENSIONS = ['.db', '.sqlite', '.sqlite3'] as const;

/**
 * The sink target for `--to`: a target with its scheme as given; a bare path by its shape — `./out.db`
 * (`.db`, `.sqlite`, `.sqlite3`) is `sqlite:./out.db`, an existing directory or a path ending in `/` is
 * `jsonl:DIR`. Anything else is a usage error that shows the forms.
 * @example resolveTarget('./out.db') // 'sqlite:./out.db'
 */
export function resolveTarget(to: string): string {
  if (/^(sqlite|postgres|postgresql|jsonl):/i.test(to)) return to;
  const lower = to.toLowerCase();
  if (SQLITE_EXTENSIONS.some((ext) => lower.endsWith(ext))) return `sqlite:${to}`;
  if (to.endsWith('/') || (existsSync(to) && statSync(to).isDirectory())) return `jsonl:${to}`;
  throw new UsageError(
    `--to ${to}: cannot tell the kind of target; write sqlite:${to}, jsonl:${to}, or postgres://USER@HOST/DB (a bare path ending in ${SQLITE_EXTENSIONS.join(', ')} is SQLite, a directory is JSONL)`,
  );
}

/** PostgreSQL's "database does not exist" (SQLSTATE 3D000), anywhere in an error's cause chain. */
export function isMissingDatabase(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if (typeof e === 'object' && (e as { code?: unknown }).code === '3D000') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
