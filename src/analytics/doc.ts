/** `docs/analytics.md`, written from the view definitions so the page and the SQL never disagree. */
import { dialectOf } from './dialect.js';
import { ANALYTICS_VIEWS, PERCENTILE_RULE } from './views.js';

/** A Markdown table with its columns padded to one width, as the formatter lays it out. */
function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const cells = [headers, ...rows].map((r) => r.map((c) => c.replace(/\|/g, '\\|')));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: readonly string[]) =>
    `| ${r.map((c, i) => c + ' '.repeat((widths[i] ?? 0) - [...c].length)).join(' | ')} |`;
  const [head, ...body] = cells;
  return [line(head ?? []), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}

/** The Markdown of `docs/analytics.md`. */
export function renderAnalyticsDoc(): string {
  const sqlite = dialectOf('sqlite');
  const postgres = dialectOf('postgres', 'public');
  const out: string[] = [
    '## Analytics views',
    '',
    'Ready-made answers to recruiting questions, as SQL views in a SQLite or PostgreSQL target: the same',
    'names, the same columns and the same results on both. Create or replace them with',
    '`ashpipe analytics install --to TARGET` (or `ashpipe sync --analytics`), list them with',
    '`ashpipe analytics list --to TARGET`, print one with `ashpipe analytics show VIEW --to TARGET [--json|--csv]`',
    '(`VIEW` with or without its `analytics_` prefix). Query them like any table from your own tools.',
    'A source flow of `ashpipe serve` installs them after each run that did not fail when its',
    '`options.analytics` is `true` ("Install analytics views" in the console\'s flow wizard); a flow',
    "writing JSONL cannot have it on. The console's Insights page of a source flow (Flows › Insights) charts",
    '`analytics_application_funnel`, `analytics_time_in_stage`, `analytics_hires_by_source` and',
    '`analytics_open_jobs_aging`, filtered by job, department and date range, and installs the views in one',
    'click where they are missing.',
    '',
    'Rules every view follows:',
    '',
    '- **Live rows only.** Rows soft-deleted by a sync (`_ashpipe_deleted_at` set) are left out, and so is',
    '  everything hanging off a deleted application (its stage history, its offers).',
    '- **Fields from `_ashpipe_raw`.** Views read the record as Ashby sent it, not the typed columns, so',
    '  they do not depend on how a database types a column.',
    `- **Percentiles.** Every median and p90 uses one rule, ${PERCENTILE_RULE}. No interpolation, so the`,
    '  result is always a value that occurred, and both databases compute it with the same integer ranks.',
    "- **Times.** Durations are in seconds (with milliseconds) between Ashby's ISO-8601 timestamps; weeks",
    '  start on Monday, UTC. Rates are rounded to 4 decimals, half away from zero; NULL when nothing to divide by.',
    '- **A view is installed only where the tables it reads exist**; `install` names the streams to sync',
    '  for the others. The stage views need the opt-in stream `application_stage_history`',
    '  (`ashpipe sync --streams all` or name it in `--streams`).',
    '',
    'A hired application is hired when it entered its latest stage (the stage history has no hire time of',
    'its own).',
    '',
  ];
  for (const view of ANALYTICS_VIEWS) {
    out.push(
      `### ${view.name}`,
      '',
      view.description,
      '',
      `Reads: ${view.needs.map((t) => `\`${t}\``).join(', ')}.`,
      '',
    );
    out.push(
      ...markdownTable(
        ['column', 'definition'],
        view.columns.map((c) => [`\`${c.name}\``, c.description]),
      ),
    );
    out.push(
      '',
      `Sorted by ${view.orderBy.map((c) => `\`${c}\``).join(', ')} (NULLs first) in \`analytics show\`.`,
      '',
    );
    out.push(
      '<details><summary>SQL (SQLite)</summary>',
      '',
      '```sql',
      view.sql(sqlite).trim(),
      '```',
      '',
      '</details>',
      '',
    );
    out.push(
      '<details><summary>SQL (PostgreSQL, schema <code>public</code>)</summary>',
      '',
      '```sql',
      view.sql(postgres).trim(),
      '```',
      '',
      '</details>',
      '',
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}
