import type { ProgressStream } from '../util/progress-stream.js';
import { redact, safeStringify } from '../util/redact.js';

/** Where a command writes: standard output and error. Tests pass string sinks; the CLI passes the process's. */
export interface StdIo {
  stdout: ProgressStream;
  stderr: ProgressStream;
}

/**
 * The `--json` convention: machine-readable results go to stdout as one JSON document, everything meant
 * for a person goes to stderr. Without `--json`, results are printed as text on stdout. Every byte is
 * redacted on the way out.
 */
export class Output {
  constructor(
    readonly io: StdIo,
    readonly json: boolean,
  ) {}

  /** A line for a person (progress, notices, warnings): always stderr. */
  info(message: string): void {
    this.io.stderr.write(`${redact(message)}\n`);
  }

  /** The command's result: JSON on stdout under `--json`, else the text `human()` renders. */
  result(value: unknown, human: () => string): void {
    if (this.json) this.io.stdout.write(`${safeStringify(value, 2)}\n`);
    else this.io.stdout.write(`${redact(human())}\n`);
  }

  /** Plain text on stdout (tables, listings) when not in `--json` mode. */
  text(message: string): void {
    this.io.stdout.write(`${redact(message)}\n`);
  }

  get isTTY(): boolean {
    return Boolean(this.io.stderr.isTTY);
  }
}

/** Renders rows as an aligned text table. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => headers.map((_, i) => String(r[i] ?? '')));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
