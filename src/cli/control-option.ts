import { type Command, Option } from 'commander';
import { resolveHome } from '../control/home.js';
import { type Control, controlUrl, openControl } from '../control/open.js';
import type { CliContext } from './context.js';

/** The option {@link addControlOption} adds, as commander parses it. */
export interface ControlOptions {
  /**
   * A PostgreSQL control store instead of `control.db` in the home directory.
   * @default `ASHPIPE_CONTROL_URL`, else control.db in `$ASHPIPE_HOME`
   * @example 'postgres://ashpipe@db.internal/ashpipe?schema=ashpipe'
   */
  control?: string;
}

/** Adds `--control <url>`, worded as `ashpipe serve` words it. */
export function addControlOption(cmd: Command): Command {
  return cmd.addOption(
    new Option(
      '--control <url>',
      'a PostgreSQL control store, postgres://USER@HOST:PORT/DB?schema=NAME (env ASHPIPE_CONTROL_URL; default: control.db in $ASHPIPE_HOME)',
    ),
  );
}

/**
 * Opens the control store a command names: `--control`, else `ASHPIPE_CONTROL_URL`, else control.db in
 * the home directory; migrations are applied first.
 * @example const control = await openCliControl(ctx, opts);
 */
export function openCliControl(ctx: CliContext, opts: ControlOptions): Promise<Control> {
  const url = controlUrl(opts.control, ctx.env);
  return openControl({ home: resolveHome(ctx.env), ...(url !== undefined ? { url } : {}) });
}

/** Runs `fn` on the command's control store, closed afterwards. */
export async function withCliControl<T>(
  ctx: CliContext,
  opts: ControlOptions,
  fn: (control: Control) => Promise<T>,
): Promise<T> {
  const control = await openCliControl(ctx, opts);
  try {
    return await fn(control);
  } finally {
    await control.close();
  }
}
