import { Command, CommanderError } from 'commander';
import { AshbyError } from '../ashby/errors.js';
import { redact } from '../util/redact.js';
import { VERSION } from '../version.js';
import { commandFactories } from './commands/index.js';
import type { CliContext } from './context.js';
import { ExitCode, ExitError, UsageError } from './exit-codes.js';
import { Output, type Streams } from './output.js';

/** Severity order used when several parts of a run report different outcomes. */
const SEVERITY: Record<ExitCode, number> = { 0: 0, 3: 1, 2: 2, 1: 3, 130: 4 };

/** Builds the `ashpipe` program; each subcommand comes from its own factory. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('ashpipe')
    .description(
      'Move data in and out of Ashby: sync every stream into your database, push records into Ashby.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.streams.stdout.write(s),
      writeErr: (s) => ctx.streams.stderr.write(redact(s)),
    })
    .exitOverride();
  for (const factory of commandFactories) program.addCommand(factory(ctx));
  // Nested commands (`quarantine export`) too: a usage error anywhere exits 2 through `main`, never
  // through commander's own process.exit(1), and writes where the CLI writes.
  const override = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride();
      sub.configureOutput({
        writeOut: (s) => ctx.streams.stdout.write(s),
        writeErr: (s) => ctx.streams.stderr.write(redact(s)),
      });
      sub.showHelpAfterError('(run with --help for usage)');
      override(sub);
    }
  };
  override(program);
  return program;
}

export interface MainOptions {
  streams?: Streams;
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Runs the CLI and resolves to the process exit code (0, 1, 2, 3, or 130 after Ctrl-C). */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const streams = options.streams ?? { stdout: process.stdout, stderr: process.stderr };
  let exitCode: ExitCode = ExitCode.Success;
  const ctx: CliContext = {
    streams,
    env: options.env ?? process.env,
    stdin: options.stdin ?? process.stdin,
    output: (json) => new Output(streams, json),
    setExitCode(code) {
      if (SEVERITY[code] > SEVERITY[exitCode]) exitCode = code;
    },
  };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return pickWorse(exitCode, classify(error, streams));
  }
}

function pickWorse(a: ExitCode, b: ExitCode): ExitCode {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

/** Prints an error for a person and returns the exit code it maps to. */
function classify(error: unknown, streams: Streams): ExitCode {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
      return ExitCode.Success;
    if (error.code === 'commander.help') return ExitCode.Success;
    return ExitCode.Usage;
  }
  if (error instanceof UsageError) {
    streams.stderr.write(`error: ${redact(error.message)}\n`);
    return ExitCode.Usage;
  }
  if (error instanceof ExitError) {
    if (error.message) streams.stderr.write(`${redact(error.message)}\n`);
    return error.exitCode;
  }
  if (error instanceof AshbyError) {
    streams.stderr.write(`error: ${redact(error.message)}\n`);
    return ExitCode.Failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  streams.stderr.write(`error: ${redact(message)}\n`);
  if (process.env.ASHPIPE_DEBUG && error instanceof Error && error.stack) {
    streams.stderr.write(`${redact(error.stack)}\n`);
  }
  return ExitCode.Failure;
}
