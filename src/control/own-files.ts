import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { MASTER_KEY_FILE } from '../vault/master-key.js';
import { CONTROL_DB_FILE } from './store.js';

/** The real path of `p`, following links of the longest part that exists. */
export function realPath(p: string): string {
  const resolved = path.resolve(p);
  const rest: string[] = [];
  let current = resolved;
  for (;;) {
    try {
      return path.join(realpathSync.native(current), ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return resolved;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Whether `p` is one of ashpipe's own files in `home` — the control store (with its WAL, shared-memory
 * and journal files) or the master key — by name after following links, or by identity (a hard link).
 * Nothing may read them as input or write into them as a sync target.
 */
export function isOwnFile(home: string, p: string): boolean {
  const real = realPath(p);
  const name = path.basename(real);
  if (
    path.dirname(real) === realPath(home) &&
    (name.startsWith(CONTROL_DB_FILE) || name.startsWith(MASTER_KEY_FILE))
  )
    return true;
  let target: ReturnType<typeof statSync> | undefined;
  try {
    target = statSync(real);
  } catch {
    return false;
  }
  for (const own of [CONTROL_DB_FILE, `${CONTROL_DB_FILE}-wal`, `${CONTROL_DB_FILE}-shm`, MASTER_KEY_FILE]) {
    try {
      const s = statSync(path.join(home, own));
      if (s.dev === target.dev && s.ino === target.ino) return true;
    } catch {}
  }
  return false;
}
