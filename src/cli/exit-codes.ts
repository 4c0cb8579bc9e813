/** Process exit codes, as documented in the README. */
export const ExitCode = {
  /** Everything asked for was done. */
  Success: 0,
  /** The run failed: bad key, fatal permission error, unexpected error. */
  Failure: 1,
  /** Usage or configuration error: nothing was attempted. */
  Usage: 2,
  /** Partial success: some streams skipped or failed, or some records quarantined; the rest committed. */
  Partial: 3,
  /** Stopped by Ctrl-C (128 + SIGINT, as shells report it): what was committed stays, a rerun resumes. */
  Interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown for a usage or configuration problem; the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Thrown by a command to end with a specific exit code after it has already reported what happened. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}
