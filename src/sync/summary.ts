import { table } from '../cli/output.js';
import { formatDuration } from './duration.js';
import type { SyncSummary } from './types.js';

/** The summary table a person reads at the end of a run. */
export function formatSummary(summary: SyncSummary): string {
  const rows = summary.streams.map((s) => [
    s.stream,
    s.status,
    s.mode ?? '-',
    s.records,
    s.inserted,
    s.updated + s.undeleted,
    s.deleted,
    s.unchanged,
    s.pages,
    s.retries,
    s.rateLimited,
    formatDuration(s.durationMs),
    s.reason,
  ]);
  const lines = [
    table(
      [
        'stream',
        'status',
        'mode',
        'records',
        'inserted',
        'updated',
        'deleted',
        'unchanged',
        'pages',
        'retries',
        '429s',
        'duration',
        'why',
      ],
      rows,
    ),
  ];
  const newColumns = summary.streams.filter((s) => s.newColumns.length > 0);
  if (newColumns.length > 0) {
    lines.push('', 'New columns (fields Ashby started sending):');
    for (const s of newColumns) lines.push(`  ${s.stream}: ${s.newColumns.join(', ')}`);
  }
  const noticed = summary.streams.filter((s) => (s.notices ?? []).length > 0);
  if (noticed.length > 0) {
    lines.push('', 'Notices:');
    for (const s of noticed) lines.push(`  ${s.stream}: ${(s.notices ?? []).join('; ')}`);
  }
  const dropped = summary.streams.filter((s) => s.droppedConfidential > 0);
  if (dropped.length > 0) {
    lines.push('', 'Left out by --exclude-confidential:');
    for (const s of dropped) lines.push(`  ${s.stream}: ${s.droppedConfidential} records`);
  }
  const rejected = summary.streams.filter((s) => (s.rejected ?? 0) > 0);
  if (rejected.length > 0) {
    lines.push('', 'Rejected records (not stored; each is in the run log):');
    for (const s of rejected) {
      const why = (s.rejects ?? []).map((r) => `${r.reason}: ${r.count}`).join(', ');
      lines.push(`  ${s.stream}: ${s.rejected}${why ? ` (${why})` : ''}`);
    }
  }
  const problems = summary.streams.filter((s) => s.error && s.status !== 'aborted');
  if (problems.length > 0) {
    lines.push('', 'Problems:');
    for (const s of problems) {
      const id = s.error?.requestId ? ` (requestId ${s.error.requestId})` : '';
      lines.push(`  ${s.stream} ${s.status}: ${s.error?.message ?? ''}${id}`);
    }
  }
  const t = summary.totals;
  lines.push(
    '',
    `${t.records} records (${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted) in ` +
      `${formatDuration(summary.durationMs)}; ${t.requests} requests, ${t.retries} retries, ${t.rateLimited} rate-limited; ` +
      `data in ${summary.target}`,
  );
  const fresh = summary.streams.filter((s) => s.notDue);
  if (fresh.length > 0) {
    lines.push(
      `${fresh.length} stream${fresh.length === 1 ? '' : 's'} without a sync token still fresh, not read (--refresh reads them now)`,
    );
  }
  if (summary.fatal) lines.push(`Stopped: ${summary.fatal.message}`);
  return lines.join('\n');
}
