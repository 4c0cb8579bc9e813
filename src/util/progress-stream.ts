/**
 * Where a person's text goes: standard error (or output), or anything with `write` and an optional TTY
 * flag. Progress displays draw live bars on a TTY and print plain lines otherwise; tests pass a string sink.
 */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** True on a terminal. @default false */
  isTTY?: boolean;
}
