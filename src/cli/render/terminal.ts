/**
 * The few terminal controls the live displays use, and the promise that whatever they turn off is turned
 * back on: on `stop()`, and on process exit should a run end some other way (Ctrl-C, an uncaught error).
 */

/** Where a live display draws: stderr, with its size when it is a terminal. */
export interface TerminalStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** Width in characters (a TTY's `columns`). */
  columns?: number;
  /** Height in lines (a TTY's `rows`). */
  rows?: number;
}

export const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';
export const WRAP_OFF = '\x1b[?7l';
export const WRAP_ON = '\x1b[?7h';
/** Moves to the start of the line `n` lines up and clears everything below. */
export const up = (n: number): string => (n > 0 ? `\x1b[${n}F\x1b[J` : '\r\x1b[J');

/** What the terminal is given back when a display stops. */
export const RESTORE = `${SHOW_CURSOR}${WRAP_ON}`;

/** The terminal's size, with the usual 80×24 when it does not say. */
export function sizeOf(out: TerminalStream): { columns: number; rows: number } {
  const columns = out.columns && out.columns > 0 ? out.columns : 80;
  const rows = out.rows && out.rows > 0 ? out.rows : 24;
  return { columns, rows };
}

/** Cuts a line to `width` characters (an ellipsis marks the cut), so that no line ever wraps. */
export function cutToWidth(line: string, width: number): string {
  if (line.length <= width) return line;
  return width <= 1 ? line.slice(0, width) : `${line.slice(0, width - 1)}…`;
}

const taken = new Set<TerminalStream>();
let exitHookInstalled = false;

/**
 * Takes the terminal for a live display (cursor hidden, line wrap off) and returns the function that gives
 * it back. Until then, an exit of the process gives it back too.
 */
export function takeTerminal(out: TerminalStream): () => void {
  out.write(`${HIDE_CURSOR}${WRAP_OFF}`);
  taken.add(out);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const t of taken) t.write(RESTORE);
      taken.clear();
    });
  }
  return () => {
    if (!taken.delete(out)) return;
    out.write(RESTORE);
  };
}
