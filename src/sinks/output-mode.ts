import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';

/**
 * Permissions of the files and directories a sink creates. Synced tables hold personal data
 * (candidates, offers), so they are readable by their owner only unless asked otherwise.
 * - `private`: files 0600, directories 0700
 * - `umask`: what the process umask gives (typically 0644 and 0755), for outputs others must read
 * Files and directories that already exist keep their permissions.
 */
export type OutputMode = 'private' | 'umask';

/** Mode of a new file. */
export function fileMode(mode: OutputMode): number {
  return mode === 'private' ? 0o600 : 0o666;
}

/** Mode of a new directory. */
export function dirMode(mode: OutputMode): number {
  return mode === 'private' ? 0o700 : 0o777;
}

/** Creates the parent directories of `file` and the file itself (empty), with the mode's permissions, when missing. */
export function createPrivately(file: string, mode: OutputMode): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: dirMode(mode) });
  try {
    closeSync(openSync(file, 'wx', fileMode(mode)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
