import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { assertBuilt, BIN } from './built-cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Where the screens the terminal tests walk are saved on every run, beside the console's screenshots
 * (`test/cli/__screens__/` keeps a copy of one run for a reader of the repository).
 */
export const SCREENS_DIR = fileURLToPath(new URL('../../test-artifacts/terminal', import.meta.url));

/** A CLI run in a real pseudo-terminal of a given size, its output fed to a headless terminal emulator. */
export interface PtyRun {
  child: ChildProcess;
  /** Everything the terminal received, escape sequences included. */
  raw(): string;
  /** The visible screen now, one string per row, trailing blanks cut. */
  screen(): Promise<string[]>;
  /** The emulated terminal (its modes say whether line wrap is on). */
  terminal: xterm.Terminal;
  /** Types into the terminal, e.g. `\x03` for Ctrl-C. */
  type(text: string): void;
  exit: Promise<number | null>;
}

/**
 * Runs the built `ashpipe ARGS` (`npm run build` first) inside `script` (util-linux), which gives it a pseudo-terminal sized
 * `columns`×`rows` with `stty`; what it draws is replayed into an xterm.js emulator of the same size.
 */
export function runInPty(
  args: string[],
  options: { env: NodeJS.ProcessEnv; columns?: number; rows?: number; cwd?: string },
): PtyRun {
  assertBuilt();
  const columns = options.columns ?? 100;
  const rows = options.rows ?? 30;
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [
    `stty cols ${columns} rows ${rows};`,
    'exec',
    quote(process.execPath),
    quote(BIN),
    ...args.map(quote),
  ].join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, TERM: 'xterm-256color', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const terminal = new xterm.Terminal({ cols: columns, rows, allowProposedApi: true });
  let raw = '';
  let pending: Promise<void> = Promise.resolve();
  child.stdout?.on('data', (d: Buffer) => {
    const text = d.toString('utf8');
    raw += text;
    pending = new Promise<void>((resolve) => terminal.write(text, resolve));
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    raw: () => raw,
    terminal,
    async screen() {
      await pending;
      const buffer = terminal.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < rows; i++)
        lines.push(buffer.getLine(buffer.viewportY + i)?.translateToString(true) ?? '');
      return lines;
    },
    type(text) {
      child.stdin?.write(text);
    },
    exit: exit.then(async (code) => {
      await pending;
      return code;
    }),
  };
}

/** Saves a screen as text under `__screens__/NAME.txt`, framed so its size shows. */
export function saveScreen(name: string, lines: readonly string[], columns = 100): void {
  fs.mkdirSync(SCREENS_DIR, { recursive: true });
  const frame = `+${'-'.repeat(columns)}+`;
  const body = lines.map((l) => `|${l.padEnd(columns)}|`);
  fs.writeFileSync(path.join(SCREENS_DIR, `${name}.txt`), `${[frame, ...body, frame].join('\n')}\n`);
}

/** Resolves when `check` holds, polling; rejects after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out waiting for the terminal');
    await new Promise((r) => setTimeout(r, 50));
  }
}
