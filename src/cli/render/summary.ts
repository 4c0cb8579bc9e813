import { formatDuration } from '../../sync/duration.js';
import type { StreamResult, SyncSummary } from '../../sync/types.js';
import { table } from '../output.js';
import { count } from './words.js';

/** Options of {@link formatSummary}. */
export interface SummaryFormat {
  /**
   * Every column (pages, unchanged, retries, 429s, why) instead of the compact table that fits 100 columns.
   * @default false
   * @example true
   */
  wide?: boolean;
  /**
   * List only the streams that changed something or did not complete; the others are counted in one line.
   * The demo's second run uses it, where most streams read nothing new.
   * @default false
   */
  changedOnly?: boolean;
}

const changed = (s: StreamResult) => s.inserted + s.updated + s.undeleted + s.deleted;

/** An error's message without the `endpoint: ` its class puts first: the stream's row already names it. */
function detailOf(s: StreamResult): string {
  const message = s.error?.message ?? '';
  return message.startsWith(`${s.endpoint}: `) ? message.slice(s.endpoint.length + 2) : message;
}

function streamTable(streams: readonly StreamResult[], wide: boolean): string {
  if (wide) {
    return table(
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
      streams.map((s) => [
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
      ]),
    );
  }
  return table(
    ['stream', 'status', 'mode', 'read', 'inserted', 'updated', 'deleted', 'time'],
    streams.map((s) => [
      s.stream,
      s.status,
      s.mode ?? '-',
      s.records,
      s.inserted,
      s.updated + s.undeleted,
      s.deleted,
      formatDuration(s.durationMs),
    ]),
  );
}

/** Problems grouped by their cause, so that one cause shared by every stream is said once. */
function problemLines(streams: readonly StreamResult[]): string[] {
  const groups = new Map<string, StreamResult[]>();
  for (const s of streams) {
    if (!s.error || s.status === 'aborted') continue;
    const key = `${s.status}\u0000${detailOf(s)}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const lines: string[] = [];
  for (const group of groups.values()) {
    const first = group[0] as StreamResult;
    const id = first.error?.requestId ? ` (requestId ${first.error.requestId})` : '';
    if (group.length === 1) {
      lines.push(`  ${first.stream} ${first.status}: ${detailOf(first)}${id}`);
    } else {
      const names = group.map((s) => s.stream);
      const shown =
        names.length > 4 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
      lines.push(`  ${group.length} streams ${first.status} (${shown}): ${detailOf(first)}`);
    }
  }
  return lines;
}

/**
 * The summary a person reads at the end of a run: a table of the streams (compact unless `wide`), what
 * needs attention, and one total line.
 */
export function formatSummary(summary: SyncSummary, format: SummaryFormat = {}): string {
  const lines: string[] = [];
  // A stopped run (refused key) lists only what it committed: the rest were stopped by the one cause below.
  let shown = summary.fatal ? summary.streams.filter((s) => s.pages > 0) : summary.streams;
  let quiet = 0;
  if (format.changedOnly) {
    const before = shown.length;
    shown = shown.filter((s) => s.status !== 'ok' || changed(s) > 0);
    quiet = before - shown.length;
  }
  if (shown.length > 0) lines.push(streamTable(shown, Boolean(format.wide)));
  if (quiet > 0) lines.push(`${count(quiet, 'other stream')} read with no change.`);
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
  const fresh = summary.streams.filter((s) => s.notDue);
  if (fresh.length > 0) {
    const next = fresh
      .map((s) => s.notDue?.nextReadAt)
      .filter((at): at is string => at !== undefined)
      .sort()[0];
    lines.push(
      '',
      `Not read, still fresh (no sync token; --refresh reads them now): ${fresh.map((s) => s.stream).join(', ')}${next ? `; next read after ${next}` : ''}`,
    );
  }
  const problems = summary.fatal ? [] : problemLines(summary.streams);
  if (problems.length > 0) lines.push('', 'Problems:', ...problems);
  const t = summary.totals;
  const changes = t.inserted + t.updated + t.deleted;
  lines.push(
    '',
    `read ${t.records}, changed ${changes} (${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted) in ` +
      `${formatDuration(summary.durationMs)}; ${count(t.requests, 'request')}, ${count(t.retries, 'retry', 'retries')}, ` +
      `${t.rateLimited} rate-limited; data in ${summary.target}`,
  );
  if (summary.fatal) {
    const stopped = summary.streams.filter((s) => s.status !== 'ok').length;
    lines.push(`Stopped (${count(stopped, 'stream')} not finished): ${summary.fatal.message}`);
  }
  return lines.join('\n').replace(/^\n+/, '');
}
