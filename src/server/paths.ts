import { realpathSync } from 'node:fs';
import path from 'node:path';
import { CONTROL_DB_FILE } from '../control/store.js';
import { MASTER_KEY_FILE } from '../vault/master-key.js';
import { ValidationError } from './errors.js';
import type { FlowConfig } from './model.js';

/** The real path of `p`, following links of the longest part that exists. */
function realPath(p: string): string {
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
 * Refuses file paths of a flow that name the server's own secrets: the control store (with its WAL and
 * journal files) and the master key. A flow reading them as input would show the vault's ciphertexts,
 * sessions or the master key in a dry run or the quarantine; a sync writing into them would corrupt them.
 */
export function checkFlowPaths(home: string, config: FlowConfig): void {
  const homeReal = realPath(home);
  const protectedFile = (p: string): boolean => {
    const real = realPath(p);
    if (path.dirname(real) !== homeReal) return false;
    const name = path.basename(real);
    return name.startsWith(CONTROL_DB_FILE) || name.startsWith(MASTER_KEY_FILE);
  };
  const refuse = (field: string, p: string) => {
    if (protectedFile(p))
      throw new ValidationError(`${field} names a file of ashpipe's own control store or master key`, [
        { path: field, message: 'not allowed: ashpipe home file' },
      ]);
  };
  if (config.kind === 'source') {
    if (config.target.type === 'sqlite') refuse('target.path', config.target.path);
    if (config.target.type === 'jsonl')
      for (const stream of config.streams)
        refuse('target.path', path.join(config.target.path, `${stream}.jsonl`));
    return;
  }
  const input = config.input;
  if (input.path !== undefined) refuse('input.path', input.path);
  if (input.database?.startsWith('sqlite:')) refuse('input.database', input.database.slice('sqlite:'.length));
}
