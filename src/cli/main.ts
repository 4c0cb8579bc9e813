import { Command, CommanderError } from 'commander';
import { AshbyError, toErrorInfo } from '../ashby/errors.js';
import { otlpRequested, startTracing } from '../observability/tracing.js';
import { ConfigError } from '../util/errors.js';
import { redact } from '../util/redact.js';
import { VERSION } from '../version.js';
import { type CommandFactory, commandFactoriesFor } from './commands/index.js';
import type { CliContext } from './context.js';
import { ExitCode, ExitError } from './exit-codes.js';
import { Output, type StdIo } from './output.js';

/** Severity order used when several parts of a run report different outcomes. */
const SEVERITY: Record<ExitCode, number> = { 0: 0, 3: 1, 2: 2, 1: 3, 130: 4 };

/** Builds the `ashpipe` program with the subcommands of `factories` (see `commandFactoriesFor`). */
export function buildProgram(ctx: CliContext, factories: readonly CommandFactory[]): Command {
  const program = new Command('ashpipe')
    .description(
      'Move data in and out of Ashby: sync every stream into your database, push records into Ashby.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(redact(s)),
    })
    .exitOverride();
  for (const factory of factories) program.addCommand(factory(ctx));
  // Nested commands (`quarantine export`) too: a usage error anywhere exits 2 through `main`, never
  // through commander's own process.exit(1), and writes where the CLI writes.
  const override = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride();
      sub.configureOutput({
        writeOut: (s) => ctx.io.stdout.write(s),
        writeErr: (s) => ctx.io.stderr.write(redact(s)),
      });
      sub.showHelpAfterError('(run with --help for usage)');
      override(sub);
    }
  };
  override(program);
  return program;
}

export interface MainOptions {
  /** Standard output and error. @default the process's */
  io?: StdIo;
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Runs the CLI and resolves to the process exit code (0, 1, 2, 3, or 130 after Ctrl-C). */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const given = options.io ?? { stdout: process.stdout, stderr: process.stderr };
  // Whether a command already wrote its result: the fatal document below must not make it two.
  let stdoutUsed = false;
  const stdout = new Proxy(given.stdout, {
    get(target, property) {
      if (property === 'write')
        return (chunk: string) => {
          stdoutUsed = true;
          return target.write(chunk);
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const io: StdIo = { stdout, stderr: given.stderr };
  let exitCode: ExitCode = ExitCode.Success;
  const ctx: CliContext = {
    io,
    env: options.env ?? process.env,
    stdin: options.stdin ?? process.stdin,
    output: (json) => new Output(io, json),
    setExitCode(code) {
      if (SEVERITY[code] > SEVERITY[exitCode]) exitCode = code;
    },
  };
  const program = buildProgram(ctx, await commandFactoriesFor(argv));
  // Traces only when OTEL_EXPORTER_OTLP_ENDPOINT asks for them: the SDK is not even loaded otherwise.
  const tracing = otlpRequested(ctx.env) ? await startTracing(ctx.env) : undefined;
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    // A command asked for JSON still gets one JSON document on stdout when it stops before its result.
    if (
      argv.includes('--json') &&
      !stdoutUsed &&
      !(error instanceof CommanderError) &&
      !(error instanceof ExitError)
    ) {
      io.stdout.write(`${JSON.stringify({ fatal: toErrorInfo(error) })}\n`);
    }
    return pickWorse(exitCode, classify(error, io));
  } finally {
    // Spans still buffered are sent before the process ends; an unreachable collector is not the run's failure.
    await tracing?.shutdown().catch(() => {});
  }
}

function pickWorse(a: ExitCode, b: ExitCode): ExitCode {
  return SEVERITY[a] >= SEVERITY[b] ? a : b;
}

/** Prints an error for a person and returns the exit code it maps to. */
function classify(error: unknown, io: StdIo): ExitCode {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
      return ExitCode.Success;
    if (error.code === 'commander.help') return ExitCode.Success;
    return ExitCode.Usage;
  }
  if (error instanceof ConfigError) {
    io.stderr.write(`error: ${redact(error.message)}\n`);
    return ExitCode.Usage;
  }
  if (error instanceof ExitError) {
    if (error.message) io.stderr.write(`${redact(error.message)}\n`);
    return error.exitCode;
  }
  if (error instanceof AshbyError) {
    io.stderr.write(`error: ${redact(error.message)}\n`);
    return ExitCode.Failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`error: ${redact(message)}\n`);
  if (process.env.ASHPIPE_DEBUG && error instanceof Error && error.stack) {
    io.stderr.write(`${redact(error.stack)}\n`);
  }
  return ExitCode.Failure;
}
