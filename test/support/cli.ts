import { Readable } from 'node:stream';

/** Streams for the CLI that keep what it writes, to assert on. */
export function captureStreams() {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
    },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

/**
 * Runs the CLI in-process; resolves with the exit code and both streams. `stdin` is text piped in, or a
 * stream (e.g. a fake TTY); by default stdin is empty.
 */
export async function runCli(
  argv: string[],
  env: NodeJS.ProcessEnv,
  stdin: string | (NodeJS.ReadableStream & { isTTY?: boolean }) = Readable.from([]),
) {
  // Imported lazily: tests of the engines need not load every command of the CLI.
  const { main } = await import('../../src/cli/main.js');
  const io = captureStreams();
  const code = await main(['node', 'ashpipe', ...argv], {
    io: io.io,
    env,
    stdin: typeof stdin === 'string' ? Readable.from([stdin]) : stdin,
  });
  return { code, out: io.out, err: io.err };
}
