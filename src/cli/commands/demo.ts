import { Command } from 'commander';
import { DEMO_QUERIES, DEMO_SCALE, runDemo } from '../../demo/run.js';
import type { CliContext } from '../context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { formatSummary } from '../render/summary.js';
import { createSyncProgress } from '../render/sync-progress.js';

interface DemoCliOptions {
  db: string;
  home: string;
  scale: string;
  wide?: boolean;
  json?: boolean;
}

/** `ashpipe demo`: the whole product in a minute, with no Ashby account and no network. */
export function demoCommand(ctx: CliContext): Command {
  return new Command('demo')
    .description(
      'Sync a local Ashby sandbox into SQLite, change it, sync again incrementally, and show a recruiting funnel',
    )
    .option('--db <file>', 'SQLite file to create (replaced on every run)', './ashpipe-demo.db')
    .option('--home <dir>', 'home of the demo vault and control store', './.ashpipe-demo')
    .option('--scale <n>', 'number of sandbox candidates', String(DEMO_SCALE))
    .option('--wide', 'print every column of the summaries')
    .option('--json', 'print what the demo did as JSON on stdout')
    .action(async (opts: DemoCliOptions) => {
      const scale = Number(opts.scale);
      if (!Number.isInteger(scale) || scale < 10) {
        throw new UsageError(`--scale: expected a whole number of at least 10, got ${opts.scale}`);
      }
      const out = ctx.output(Boolean(opts.json));
      const result = await runDemo({
        db: opts.db,
        home: opts.home,
        scale,
        say: (line) => out.info(line),
        show: async (run, step) => {
          const progress = createSyncProgress(ctx.io.stderr);
          let summary: Awaited<ReturnType<typeof run>>;
          try {
            summary = await run((e) => progress.onEvent(e));
          } finally {
            progress.stop();
          }
          // After the first run, most streams read nothing new: list only those that changed.
          out.info(formatSummary(summary, { wide: Boolean(opts.wide), changedOnly: step !== 'full' }));
          return summary;
        },
      });
      const partial = [result.full, result.incremental, result.reconcile].some((s) => s.exitCode !== 0);
      out.result(result, () =>
        [
          '',
          `Your data is in ${result.db}. Try:`,
          '',
          ...DEMO_QUERIES.map(
            (q) => `  sqlite3 ${JSON.stringify(result.db)} "${q.replace(/\s*\n\s*/g, ' ')}"`,
          ),
          '',
          `Recruiting analytics: npx ashpipe analytics show application_funnel --to ${JSON.stringify(`sqlite:${result.db}`)} (and \`analytics list\` for the others).`,
          '',
          'Sync a real Ashby account: ASHBY_API_KEY=... npx ashpipe sync (see `npx ashpipe sync --help`).',
        ].join('\n'),
      );
      if (partial) ctx.setExitCode(ExitCode.Partial);
    });
}
