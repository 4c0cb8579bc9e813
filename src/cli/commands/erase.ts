import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { resolveHome } from '../../control/home.js';
import { type Control, controlUrl } from '../../control/open.js';
import { CONTROL_DB_FILE } from '../../control/store.js';
import {
  type ControlStoreErasure,
  type EraseReport,
  eraseFromControlStore,
  eraseFromTarget,
  loadHashKey,
} from '../../privacy/index.js';
import { MASTER_KEY_FILE } from '../../vault/master-key.js';
import type { CliContext } from '../context.js';
import { addControlOption, type ControlOptions, openCliControl } from '../control-option.js';
import { UsageError } from '../exit-codes.js';
import { vaultErrorToCli } from '../key-options.js';
import { table } from '../output.js';
import { describeTarget } from '../run-log.js';
import { resolveTarget } from '../target.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

interface EraseCliOptions extends ControlOptions {
  candidate?: string[];
  email?: string[];
  to?: string[];
  dryRun?: boolean;
  reason?: string;
  json?: boolean;
}

/** `ashpipe erase`: a person out of every target named, files included. */
export function eraseCommand(ctx: CliContext): Command {
  const cmd = new Command('erase')
    .description(
      'Erase a person from targets (candidate, applications, notes, feedback, custom field values, webhook events) and from the push quarantine and ledger; the files are overwritten',
    )
    .option('--candidate <id>', 'Ashby candidate id (repeatable)', collect)
    .option(
      '--email <address>',
      'erase the candidates stored with this email address, hashed or not (repeatable)',
      collect,
    )
    .option('--to <target>', 'target to erase from (repeatable)', collect)
    .option('--dry-run', 'list what would be erased, change nothing')
    .option('--reason <text>', 'why, kept in the erasure record (no personal data)')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (opts: EraseCliOptions) => {
      const out = ctx.output(Boolean(opts.json));
      const candidateIds = opts.candidate ?? [];
      const emails = opts.email ?? [];
      if (candidateIds.length === 0 && emails.length === 0)
        throw new UsageError('name the person: --candidate ID or --email ADDRESS');
      const targets = (opts.to ?? []).map((t) => resolveTarget(t));
      if (targets.length === 0)
        throw new UsageError('name the targets to erase from: --to TARGET (repeatable)');
      const home = resolveHome(ctx.env);
      // The control store holds the push quarantine and ledger, and pins the master key the hash key
      // comes from: the one `--control`/ASHPIPE_CONTROL_URL names, else control.db when there is one.
      const url = controlUrl(opts.control, ctx.env);
      const store: Control | undefined =
        url !== undefined || existsSync(path.join(home, CONTROL_DB_FILE))
          ? await openCliControl(ctx, opts)
          : undefined;
      let control: ControlStoreErasure = { quarantine: 0, ledger: 0, remasked: 0 };
      const reports: EraseReport[] = [];
      try {
        // Addresses stored hashed are found with the policy's key; without a master key, only plain ones.
        const hasKey = Boolean(ctx.env.ASHPIPE_MASTER_KEY) || existsSync(path.join(home, MASTER_KEY_FILE));
        let hashKey: Buffer | undefined;
        try {
          hashKey =
            emails.length > 0 && hasKey
              ? await loadHashKey({ home, env: ctx.env, ...(store ? { control: store } : {}) })
              : undefined;
        } catch (error) {
          throw vaultErrorToCli(error);
        }
        for (const target of targets) {
          reports.push(
            await eraseFromTarget(
              target,
              { candidateIds, emails },
              {
                ...(opts.dryRun ? { dryRun: true } : {}),
                ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
                ...(hashKey ? { hashKey } : {}),
              },
            ),
          );
        }
        // The push quarantine keeps input rows: entries naming the person go too.
        const needles = [
          ...new Set([
            ...reports.flatMap((r) => [...r.candidateIds, ...r.applicationIds]),
            ...candidateIds,
            ...emails,
          ]),
        ];
        if (store) control = await eraseFromControlStore(store, needles, opts.dryRun === true);
      } finally {
        await store?.close();
      }
      const { quarantine, ledger } = control;
      out.result({ reports, quarantine, ledger, remasked: control.remasked }, () =>
        reports
          .map((r) =>
            [
              `${describeTarget(r.target)}: ${r.dryRun ? 'would erase' : 'erased'} ${r.candidateIds.length} candidate(s), ${r.applicationIds.length} application(s)`,
              Object.keys(r.tables).length > 0
                ? table(
                    ['table', 'rows'],
                    Object.entries(r.tables).map(([t, n]) => [t, n]),
                  )
                : '  nothing stored of them',
            ].join('\n'),
          )
          .join('\n\n')
          .concat(
            `\npush quarantine: ${quarantine} entr${quarantine === 1 ? 'y' : 'ies'} ${opts.dryRun ? 'would go' : 'erased'}` +
              `\npush ledger: ${ledger} entr${ledger === 1 ? 'y' : 'ies'} ${opts.dryRun ? 'would go' : 'erased'}`,
          ),
      );
    });
  return addControlOption(cmd);
}
