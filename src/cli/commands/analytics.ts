import { Command } from 'commander';
import {
  ANALYTICS_VIEWS,
  type AnalyticsTarget,
  installAnalytics,
  listAnalytics,
  openAnalyticsTarget,
  readView,
  type ViewRow,
} from '../../analytics/index.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { table } from '../output.js';
import { describeInstall } from '../render/analytics.js';
import { resolveTarget } from '../target.js';
import { DEFAULT_SYNC_TARGET } from './sync.js';

async function withTarget<T>(to: string, fn: (target: AnalyticsTarget) => Promise<T>): Promise<T> {
  const target = openAnalyticsTarget(resolveTarget(to));
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

/** A CSV field: quoted when it holds a comma, quote or line break. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csv(columns: readonly string[], rows: readonly ViewRow[]): string {
  return [columns, ...rows.map((r) => columns.map((c) => r[c] ?? null))]
    .map((r) => r.map((v) => csvField(v)).join(','))
    .join('\n');
}

/** `ashpipe analytics install|list|show`: ready-made recruiting views over the synced tables. */
export function analyticsCommand(ctx: CliContext): Command {
  const cmd = new Command('analytics').description(
    'Recruiting analytics as SQL views in the target: funnel, time in stage, time to hire and fill, sources, offers, interviewer load, open jobs',
  );
  cmd
    .command('install')
    .description('Create (or replace) the analytics_* views in a SQLite or PostgreSQL target')
    .option('--to <target>', 'sqlite:PATH or postgres://USER@HOST/DB[?schema=NAME]', DEFAULT_SYNC_TARGET)
    .option('--json', 'print what was installed as JSON on stdout')
    .action(async (opts: { to: string; json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const installed = await withTarget(opts.to, installAnalytics);
      out.result({ views: installed }, () => describeInstall(installed).join('\n'));
    });
  cmd
    .command('list')
    .description('List the analytics views, and whether each is installed in the target')
    .option('--to <target>', 'sqlite:PATH or postgres://USER@HOST/DB[?schema=NAME]', DEFAULT_SYNC_TARGET)
    .option('--json', 'print the list as JSON on stdout')
    .action(async (opts: { to: string; json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const views = await withTarget(opts.to, listAnalytics);
      out.result({ views }, () =>
        table(
          ['view', 'installed', 'what it answers'],
          views.map((v) => [
            v.name,
            v.installed ? 'yes' : v.missing.length > 0 ? `no (needs ${v.missing.join(', ')})` : 'no',
            v.description,
          ]),
        ),
      );
    });
  cmd
    .command('show')
    .description('Print the rows of one view as a table (or JSON, or CSV)')
    .argument('<view>', `one of ${ANALYTICS_VIEWS.map((v) => v.name).join(', ')}`)
    .option('--to <target>', 'sqlite:PATH or postgres://USER@HOST/DB[?schema=NAME]', DEFAULT_SYNC_TARGET)
    .option('--json', 'print the rows as JSON on stdout')
    .option('--csv', 'print the rows as CSV on stdout')
    .action(async (view: string, opts: { to: string; json?: boolean; csv?: boolean }) => {
      if (opts.json && opts.csv) throw new UsageError('--json and --csv: choose one');
      const out = ctx.output(Boolean(opts.json));
      const name = view.startsWith('analytics_') ? view : `analytics_${view}`;
      const { columns, rows } = await withTarget(opts.to, (t) => readView(t, name));
      if (opts.csv) {
        out.text(csv(columns, rows));
        return;
      }
      out.result({ view: name, columns, rows }, () =>
        rows.length === 0
          ? `${name}: no rows yet`
          : table(
              columns,
              rows.map((r) => columns.map((c) => r[c] ?? null)),
            ),
      );
    });
  return cmd;
}
