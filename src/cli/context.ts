import type { ExitCode } from './exit-codes.js';
import type { Output, StdIo } from './output.js';

/** What every subcommand factory receives. */
export interface CliContext {
  /** Standard output and error (not Ashby streams). */
  io: StdIo;
  env: NodeJS.ProcessEnv;
  /** Standard input, for `--api-key-stdin` and confirmations. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Builds the output for one invocation, honouring `--json`. */
  output(json: boolean): Output;
  /** Records the exit code the process ends with (the highest severity wins). */
  setExitCode(code: ExitCode): void;
}
