import type { Command } from 'commander';
import { resolveHome } from '../control/home.js';
import { PiiPolicyError, type PiiTransformer, resolvePiiPolicy } from '../privacy/index.js';
import { type OnDelete, parseOnDelete } from '../privacy/purge.js';
import { VaultError } from '../vault/errors.js';
import type { CliContext } from './context.js';
import { UsageError } from './exit-codes.js';

/** Adds `--pii-policy none|default|FILE`. */
export function addPiiPolicyOption(cmd: Command): Command {
  return cmd.option(
    '--pii-policy <policy>',
    'personal data: none (store as Ashby sends), default (hash, mask or drop the fields of `ashpipe pii catalogue`) or a policy FILE (YAML or JSON)',
    'none',
  );
}

/**
 * The policy `--pii-policy` names, its hash key checked against the control store `ASHPIPE_CONTROL_URL`
 * names (else `control.db`); its mistakes (and a missing master key) exit with code 2.
 */
export async function resolvePiiOption(
  ctx: CliContext,
  spec: string | undefined,
): Promise<PiiTransformer | undefined> {
  if (spec === undefined || spec === 'none') return undefined;
  try {
    return await resolvePiiPolicy(spec, {
      home: resolveHome(ctx.env),
      env: ctx.env,
      notice: (m) => ctx.io.stderr.write(`${m}\n`),
    });
  } catch (error) {
    if (error instanceof PiiPolicyError) throw new UsageError(`--pii-policy: ${error.message}`);
    if (error instanceof VaultError && error.code !== 'tampered')
      throw new UsageError(`--pii-policy: ${error.message}`);
    throw error;
  }
}

/** Adds `--on-delete soft|purge`. */
export function addOnDeleteOption(cmd: Command): Command {
  return cmd.option(
    '--on-delete <mode>',
    'a candidate deleted or merged away in Ashby: soft (mark the row deleted) or purge (erase it and its applications, notes, feedback… as `ashpipe erase` does)',
    'soft',
  );
}

/** `--on-delete`'s value; anything else exits with code 2. */
export function resolveOnDelete(value: string | undefined): OnDelete {
  try {
    return parseOnDelete(value, '--on-delete');
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
