import { lstatSync, type Stats, statSync } from 'node:fs';
import path from 'node:path';
import { isOwnFile, realPath } from '../control/own-files.js';
import { STREAMS } from '../streams/index.js';
import { ValidationError } from './errors.js';
import type { FlowConfig } from './model.js';

/**
 * Where the files of flows may live. The server reads and writes files on behalf of anyone with a console
 * session or an API token, so a flow may name only files inside the data directories: inputs of
 * destinations (CSV, JSONL, JSON, a SQLite database to query) and targets of sources (a SQLite file, a
 * JSONL directory). Relative paths are taken from the first data directory.
 */
export interface PathPolicy {
  /**
   * Directories flow files must be inside, as given (checked by their real path).
   * @example ['/srv/ashpipe/data']
   */
  dataDirs: readonly string[];
  /** The ashpipe home: its control store and master key are never a flow's file, wherever the data directories are. */
  home?: string;
}

/** The data directory when `--data-dir` names none. */
export function defaultDataDir(home: string): string {
  return path.join(home, 'data');
}

/** Trees no flow file may be in, whatever the data directories: the kernel's and devices' views of the machine. */
const NEVER = ['/proc', '/dev', '/sys'];

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

function statOrUndefined(p: string, follow: boolean): Stats | undefined {
  try {
    return follow ? statSync(p) : lstatSync(p);
  } catch {
    return undefined;
  }
}

function refuse(field: string, message: string): never {
  throw new ValidationError(`${field} ${message}`, [{ path: field, message }]);
}

/** What a flow does with a path; inputs must be files, a JSONL target is a directory. */
type Use = 'input' | 'sqlite' | 'directory';

/**
 * Checks one path of a flow against the policy and returns its real, absolute path (what the engines
 * then open, so a link changed after the check leads nowhere new). Refused, with a 422 naming the field:
 * a path outside every data directory (after following links, `..` resolved), anything under `/proc`,
 * `/dev` or `/sys`, the control store and master key, a SQLite URI or `:memory:`, and an existing file
 * with several hard links (another name of it may be outside).
 */
export function resolveFlowPath(policy: PathPolicy, field: string, p: string, use: Use): string {
  if (p.includes('\u0000')) refuse(field, 'holds a NUL character');
  if (use === 'sqlite' && (/^file:/i.test(p) || p.startsWith(':memory:') || p.includes('?')))
    refuse(field, 'must be a file path, not a SQLite URI');
  const dirs = policy.dataDirs.map((d) => realPath(d));
  const base = dirs[0];
  if (base === undefined) refuse(field, 'cannot be used: the server has no data directory');
  const real = realPath(path.isAbsolute(p) ? p : path.join(base, p));
  if (NEVER.some((root) => inside(root, real)))
    refuse(field, `may not name a file under ${NEVER.join(', ')}`);
  if (policy.home !== undefined && isOwnFile(policy.home, real))
    refuse(field, "names a file of ashpipe's own control store or master key");
  if (!dirs.some((d) => inside(d, real)))
    refuse(
      field,
      `must be inside a data directory of the server (${policy.dataDirs.join(', ')}); upload the file or start the server with --data-dir`,
    );
  const stat = statOrUndefined(real, true);
  if (stat) {
    if (use === 'directory' ? !stat.isDirectory() : !stat.isFile())
      refuse(field, use === 'directory' ? 'is not a directory' : 'is not a regular file');
    if (use !== 'directory' && stat.nlink > 1)
      refuse(
        field,
        `has ${stat.nlink} hard links: another name of the file may be outside the data directories; use a copy`,
      );
  }
  return real;
}

/**
 * Checks every file path of a flow and returns the flow's configuration with real, absolute paths.
 * A source's target (SQLite file or JSONL directory, with the file of each stream), a destination's
 * input file or SQLite database. PostgreSQL URLs are not paths and pass unchanged.
 * @throws ValidationError (422) naming the field.
 */
export function resolveFlowPaths<C extends FlowConfig>(policy: PathPolicy, config: C): C {
  if (config.kind === 'source') {
    const target = config.target;
    if (target.type === 'sqlite')
      return {
        ...config,
        target: { ...target, path: resolveFlowPath(policy, 'target.path', target.path, 'sqlite') },
      };
    if (target.type === 'jsonl') {
      const dir = resolveFlowPath(policy, 'target.path', target.path, 'directory');
      // The stream files inside must not be links leading out either.
      const streams = config.streams.length > 0 ? config.streams : STREAMS.map((s) => s.name);
      for (const name of [...streams, '_ashpipe_state'])
        resolveFlowPath(
          policy,
          'target.path',
          path.join(dir, `${name}${name === '_ashpipe_state' ? '.json' : '.jsonl'}`),
          'input',
        );
      return { ...config, target: { ...target, path: dir } };
    }
    return config;
  }
  const input = config.input;
  if (input.path !== undefined)
    return {
      ...config,
      input: { ...input, path: resolveFlowPath(policy, 'input.path', input.path, 'input') },
    };
  if (input.type === 'sql' && input.database !== undefined && !/^postgres(ql)?:\/\//i.test(input.database)) {
    if (!input.database.startsWith('sqlite:'))
      refuse('input.database', 'must be sqlite:PATH or a postgres:// URL');
    const file = resolveFlowPath(policy, 'input.database', input.database.slice('sqlite:'.length), 'sqlite');
    return { ...config, input: { ...input, database: `sqlite:${file}` } };
  }
  return config;
}
