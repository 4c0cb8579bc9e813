/**
 * The built CLI (`bin/ashpipe.js` on `dist/`) for tests that spawn it, or other children on `dist/`, as real
 * processes: they start in a fraction of the time `node --import tsx` takes to load the sources, which
 * matters to tests that spawn dozens of them. A `dist/` older than the sources would test old code, so
 * that is an error.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bin/ashpipe.js');

/** Newest modification time of the `suffix` files under `dir` (0 when there is none). */
function newest(dir: string, suffix: string): number {
  if (!fs.existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(suffix))
      latest = Math.max(latest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** Throws unless `dist/` is built and no source under `src/` changed since. */
export function assertBuilt(): void {
  const built = newest(path.join(ROOT, 'dist'), '.js');
  if (built === 0)
    throw new Error('dist/ is missing: run `npm run build` before the tests that spawn the CLI');
  const sources = newest(path.join(ROOT, 'src'), '.ts');
  if (sources > built)
    throw new Error(
      'src/ changed after dist/ was built: run `npm run build` before the tests that spawn the CLI',
    );
}

/** A running `ashpipe serve` child of {@link startServe}. */
export interface ServeChild {
  /** The URL it listens on. */
  url: string;
  /** Its standard output and error so far. */
  output: () => string;
  /** SIGTERM, then its exit code. */
  stop: () => Promise<number | null>;
}

/**
 * Spawns the built `ashpipe serve` with `args` after `serve` and waits (up to 30 s) until it listens; a
 * child that exits or does not listen in time is killed and its output thrown.
 */
export async function startServe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeChild> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = Date.now();
  const listening = () => /listening on (http:\/\/\S+)/.exec(output)?.[1];
  while (listening() === undefined) {
    if (Date.now() - started > 30_000 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: listening() as string,
    output: () => output,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
