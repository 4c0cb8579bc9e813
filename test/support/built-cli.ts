/**
 * The built CLI (`bin/ashpipe.js` on `dist/`) for tests that spawn it, or other children on `dist/`, as real
 * processes: they start in a fraction of the time `node --import tsx` takes to load the sources, which
 * matters to tests that spawn dozens of them. A `dist/` older than the sources would test old code, so
 * that is an error.
 */
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
