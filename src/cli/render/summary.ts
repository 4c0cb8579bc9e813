import { formatDuration } from '../../sync/duration.js';
import type { StreamResult, SyncSummary } from '../../sync/types.js';
import { table } from '../output.js';
import { count, wrap } from './words.js';

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
  /**
   * Lines of prose (notices, problems, the total) are broken between words to fit it.
   * @default 100
   */
  width?: number;
}

const changed = (s: StreamResult) => s.inserted + s.updated + s.undeleted + s.deleted;

/** An error's message without the `endpoint: ` its class puts first: the stream's row already names it. */
function detailOf(s: StreamResult): string {
  const message = s.error?.message ?? '';
  return message.startsWith(`${s.endpoint}: `) ? message.slice(s.endpoint.length + 2) : message;
}

/** One column of the stream table, declared once: the compact table leaves out the `wide` ones. */
interface Column {
  header: string;
  value: (s: StreamResult) => string | number | undefined;
  /** Shown only with `--wide`. */
  wide?: true;
}

const COLUMNS: readonly Column[] = [
  { header: 'stream', value: (s) => s.stream },
  { header: 'status', value: (s) => s.status },
  { header: 'mode', value: (s) => s.mode ?? '-' },
  { header: 'read', value: (s) => s.records },
  { header: 'inserted', value: (s) => s.inserted },
  { header: 'updated', value: (s) => s.updated + s.undeleted },
  { header: 'deleted', value: (s) => s.deleted },
  { header: 'unchanged', value: (s) => s.unchanged, wide: true },
  { header: 'pages', value: (s) => s.pages, wide: true },
  { header: 'retries', value: (s) => s.retries, wide: true },
  { header: '429s', value: (s) => s.rateLimited, wide: true },
  { header: 'time', value: (s) => formatDuration(s.durationMs) },
  { header: 'why', value: (s) => s.reason, wide: true },
];

function streamTable(streams: readonly StreamResult[], wide: boolean): string {
  const columns = COLUMNS.filter((c) => wide || !c.wide);
  return table(
    columns.map((c) => c.header),
    streams.map((s) => columns.map((c) => c.value(s))),
  );
}

/**
 * A line of prose at most `width` wide, broken between words; continuation lines are indented two more
 * spaces than the first. A single word longer than the width (a long path) stays whole.
 */
function wrapToWidth(line: string, width: number): string {
  const lead = /^ */.exec(line)?.[0] ?? '';
  if (line.length <= width) return line;
  return wrap(line.slice(lead.length), width - lead.length, '  ')
    .split('\n')
    .map((l) => lead + l)
    .join('\n');
}

/** Clauses joined by `; `, broken only between clauses when the line would be wider than `width`. */
function clauses(parts: readonly string[], width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const part of parts) {
    const next = line === '' ? part : `${line}; ${part}`;
    if (next.length > width && line !== '') {
      lines.push(`${line};`);
      line = `  ${part}`;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
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
  const width = format.width ?? 100;
  const lines: string[] = [];
  // A stopped run (refused key) lists only what it committed: the rest were stopped by the one cause below.
  let shown = summary.fatal ? summary.streams.filter((s) => s.pages > 0) : summary.streams;
  let quiet = 0;
  if (format.changedOnly) {
    const before = shown.length;
    shown = shown.filter((s) => s.status !== 'ok' || changed(s) > 0);
    quiet = before - shown.length;
  }
  const tableText = shown.length > 0 ? streamTable(shown, Boolean(format.wide)) : undefined;
  if (tableText !== undefined) lines.push(tableText);
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
    clauses(
      [
        `read ${t.records}, changed ${changes} (${t.inserted} inserted, ${t.updated} updated, ${t.deleted} deleted) in ${formatDuration(summary.durationMs)}`,
        `${count(t.requests, 'request')}, ${count(t.retries, 'retry', 'retries')}, ${t.rateLimited} rate-limited`,
        `data in ${summary.target}`,
      ],
      width,
    ),
  );
  if (summary.fatal) {
    const stopped = summary.streams.filter((s) => s.status !== 'ok').length;
    lines.push(`Stopped (${count(stopped, 'stream')} not finished): ${summary.fatal.message}`);
  }
  // The table is as wide as its columns; everything else is prose, broken to fit.
  return lines
    .map((l) =>
      l === tableText
        ? l
        : l
            .split('\n')
            .map((x) => wrapToWidth(x, width))
            .join('\n'),
    )
    .join('\n')
    .replace(/^\n+/, '');
}
