import fs from 'node:fs';
import { Command, Option } from 'commander';
import { AshpipeApi, type ServerConnection } from '../../apply/api.js';
import { readFlowsFile } from '../../apply/file.js';
import { describePlan, planApply } from '../../apply/plan.js';
import { applyPlan, exportFlowsFile } from '../../apply/run.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../exit-codes.js';

/** Where `serve` listens unless told otherwise. */
const DEFAULT_SERVER = 'http://127.0.0.1:4100';

function connection(ctx: CliContext, server: string | undefined): ServerConnection {
  const url = server ?? ctx.env.ASHPIPE_SERVER ?? DEFAULT_SERVER;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`--server ${url}: not an http(s) URL (e.g. ${DEFAULT_SERVER})`);
  }
  const token = ctx.env.ASHPIPE_API_TOKEN?.trim();
  if (!token)
    throw new UsageError(
      'ASHPIPE_API_TOKEN is not set: create an API token in the console (Settings › API tokens) and export it',
    );
  return { url, token };
}

const serverOption = () =>
  new Option('--server <url>', `the ashpipe server (env ASHPIPE_SERVER; default ${DEFAULT_SERVER})`);

/** `ashpipe apply -f FILE`: make the server's credentials and flows match a flows file. */
export function applyCommand(ctx: CliContext): Command {
  return new Command('apply')
    .description(
      'Make the server match a flows file: credentials by name, flows, schedules and options (plan, then apply)',
    )
    .requiredOption('-f, --file <file>', 'the flows file (YAML), e.g. ashpipe.yaml')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--prune', 'delete flows this file managed that it no longer lists')
    .addOption(serverOption())
    .option('--json', 'print the plan and what was done as JSON on stdout')
    .addHelpText(
      'after',
      [
        '',
        'The server is reached with an API token in ASHPIPE_API_TOKEN. Keys never go in the file: a',
        "credential the server lacks is created with the key in the environment variable its 'apiKeyEnv' names;",
        "a channel with the secret its 'urlEnv' or 'smtp.passwordEnv' names.",
        '',
        'Example:',
        '  ASHPIPE_API_TOKEN=… ashpipe apply -f ashpipe.yaml --dry-run',
        '  ASHPIPE_API_TOKEN=… ashpipe apply -f ashpipe.yaml --prune',
      ].join('\n'),
    )
    .action(
      async (opts: { file: string; dryRun?: boolean; prune?: boolean; server?: string; json?: boolean }) => {
        const out = ctx.output(Boolean(opts.json));
        const loaded = readFlowsFile(opts.file);
        const api = new AshpipeApi(connection(ctx, opts.server));
        const [credentials, flows, channels] = await Promise.all([
          api.credentials(),
          api.flows(),
          api.channels(),
        ]);
        const plan = planApply(
          loaded,
          { credentials: credentials.credentials, flows, channels },
          { prune: Boolean(opts.prune) },
        );
        const lines = describePlan(plan, opts.dryRun ? 'Plan: ' : '');
        if (opts.dryRun || plan.steps.length === 0) {
          out.result({ plan, applied: [] }, () => lines.join('\n'));
          return;
        }
        if (!opts.json) out.text(lines.slice(0, -1).join('\n'));
        // Each step is reported as it completes, so a failure part-way leaves a record of what was done.
        const verbs = { create: 'created', update: 'changed', delete: 'deleted' } as const;
        const applied = await applyPlan(api, plan, ctx.env, ({ step, id }) =>
          out.info(`${verbs[step.action]} ${step.kind} "${step.name}" (${id})`),
        );
        out.result(
          {
            plan,
            applied: applied.map((a) => ({
              action: a.step.action,
              kind: a.step.kind,
              name: a.step.name,
              id: a.id,
            })),
          },
          () => `Applied: ${lines.at(-1) ?? ''}`,
        );
      },
    );
}

/** `ashpipe export -f FILE`: write the server's credentials and flows as a flows file. */
export function exportCommand(ctx: CliContext): Command {
  return new Command('export')
    .description("Write the server's credentials and flows as a flows file for `ashpipe apply`")
    .requiredOption('-f, --file <file>', "where to write it ('-' for stdout)")
    .option('--force', 'overwrite the file if it exists')
    .addOption(serverOption())
    .action(async (opts: { file: string; force?: boolean; server?: string }) => {
      const out = ctx.output(false);
      const api = new AshpipeApi(connection(ctx, opts.server));
      const [list, flows, channels] = await Promise.all([api.credentials(), api.flows(), api.channels()]);
      const text = exportFlowsFile(list.credentials, flows, list.defaultBaseUrl, channels);
      if (opts.file === '-') {
        out.text(text.trimEnd());
        return;
      }
      if (!opts.force && fs.existsSync(opts.file))
        throw new UsageError(`${opts.file} exists: choose another file or add --force`);
      fs.writeFileSync(opts.file, text);
      out.info(
        `Wrote ${list.credentials.length} credential(s), ${channels.filter((c) => c.source === 'console').length} channel(s) and ${flows.length} flow(s) to ${opts.file}. Keys and channel secrets are not in it: set the apiKeyEnv, urlEnv and passwordEnv variables before applying it to a new server.`,
      );
    });
}
