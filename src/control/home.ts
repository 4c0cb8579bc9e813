import { chmodSync, mkdirSync, statSync } from 'node:fs';

/** Where ashpipe keeps its control store when `ASHPIPE_HOME` is not set. */
export const DEFAULT_HOME = './.ashpipe';

/** Mode of the home directory: only its owner may list or enter it. */
export const HOME_DIR_MODE = 0o700;
/** Mode of every file in the home directory that holds secrets or data about them. */
export const SECRET_FILE_MODE = 0o600;

/**
 * The ashpipe home directory: `ASHPIPE_HOME`, else `./.ashpipe`.
 * @example resolveHome(process.env) // '/srv/ashpipe'
 */
export function resolveHome(env: NodeJS.ProcessEnv): string {
  const home = env.ASHPIPE_HOME;
  return home !== undefined && home !== '' ? home : DEFAULT_HOME;
}

/**
 * Creates the home directory with mode 0700 when it does not exist. An existing directory keeps the mode
 * its owner gave it, except one ashpipe created itself, which is tightened again (the umask may have
 * loosened it).
 */
export function ensureHome(home: string): void {
  const created = mkdirSync(home, { recursive: true, mode: HOME_DIR_MODE });
  if (created !== undefined) chmodSync(home, HOME_DIR_MODE);
  else if (!statSync(home).isDirectory()) throw new Error(`ASHPIPE_HOME ${home} is not a directory`);
}
