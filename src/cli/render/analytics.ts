import type { InstalledView } from '../../analytics/index.js';

/** What `analytics install` (or `sync --analytics`) did: a line, then one per view left out and why. */
export function describeInstall(installed: readonly InstalledView[]): string[] {
  const done = installed.filter((v) => v.status === 'installed');
  const lines = [`analytics: ${done.length} of ${installed.length} views installed`];
  for (const v of installed.filter((x) => x.status === 'skipped')) {
    lines.push(
      `  ${v.name} not installed: needs ${v.missing.join(', ')} (sync --streams ${v.missing.join(',')})`,
    );
  }
  return lines;
}
