import { Command } from 'commander';
import { CONTROL_URL_ENV, controlUrl } from '../../control/open.js';
import { accountLabel, pushAccount } from '../../push/account.js';
import { claimShared } from '../../push/ledger.js';
import { resolveOperation } from '../../push/operations/resolve.js';
import type { CliContext } from '../context.js';
import { addControlOption, type ControlOptions, withCliControl } from '../control-option.js';
import { addKeyOptions, type KeyOptions, resolveAshbyAccess } from '../key-options.js';
import { count } from '../render/words.js';

interface ClaimOptions extends KeyOptions, ControlOptions {
  operation?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** `ashpipe ledger claim`: the push ledger's entries written before accounts, given to their account. */
export function ledgerCommand(ctx: CliContext): Command {
  const cmd = new Command('ledger').description("The push ledger's entries, kept per Ashby account");
  const claim = addControlOption(
    cmd
      .command('claim')
      .description(
        'Give the entries written before the ledger had accounts (shared: skipped by every account) to the ' +
          'account they were pushed to, so that other accounts get those records too',
      )
      .option('--operation <name>', 'only the entries of this operation (e.g. candidate.create)')
      .option('--dry-run', 'count what would be claimed, change nothing')
      .option('--json', 'print the counts as JSON on stdout'),
  );
  addKeyOptions(claim);
  claim.addHelpText(
    'after',
    '\nThe account is the one a push with the same --credential or --api-key-env writes to. Claim only for\n' +
      'the account that really received the records: another account would then skip them.\n',
  );
  claim.action(async (opts: ClaimOptions) => {
    // The name the ledger keeps the operation under (a write endpoint without a template: manual mode's).
    const operation = opts.operation === undefined ? undefined : resolveOperation(opts.operation).name;
    // The vault read by --credential is the control store's own, as for `push`.
    const url = controlUrl(opts.control, ctx.env);
    const keyCtx = url === undefined ? ctx : { ...ctx, env: { ...ctx.env, [CONTROL_URL_ENV]: url } };
    const access = await resolveAshbyAccess(keyCtx, opts, 'ledger claim');
    const out = ctx.output(Boolean(opts.json));
    const result = await withCliControl(ctx, opts, async (control) => {
      const account = await pushAccount(control, access);
      const claimed = await control.transaction((trx) =>
        claimShared(trx, account, {
          ...(operation === undefined ? {} : { operation }),
          dryRun: Boolean(opts.dryRun),
        }),
      );
      return { ...claimed, account: await accountLabel(control, account), dryRun: Boolean(opts.dryRun) };
    });
    out.result(result, () => {
      const what = `${count(result.entries, 'ledger entry', 'ledger entries')} and ${count(result.quarantine, 'quarantine entry', 'quarantine entries')}`;
      const kept =
        result.keptShared > 0
          ? `; ${count(result.keptShared, 'entry stays', 'entries stay')} shared (${result.account} has its own entry for the record)`
          : '';
      return `${result.dryRun ? 'would give' : 'gave'} ${what} to ${result.account}${kept}`;
    });
  });
  return cmd;
}
