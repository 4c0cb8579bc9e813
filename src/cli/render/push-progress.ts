import cliProgress from 'cli-progress';
import type { RecordResult } from '../../push/engine.js';
import type { RecordStatus } from '../../push/types.js';
import { redact } from '../../util/redact.js';
import { type TerminalStream, takeTerminal } from './terminal.js';

/** Where progress goes: stderr, or anything with `write` and an optional TTY flag. */
export type PushProgressStream = TerminalStream;

/** Options of {@link createPushProgress}. */
export interface PushProgressOptions {
  /**
   * A live bar (TTY) or plain periodic lines.
   * @default the stream's `isTTY`
   */
  live?: boolean;
  /**
   * Interval of the plain lines.
   * @default 5_000
   * @example 1_000
   */
  intervalMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** Receives the engine's callbacks; call `stop()` when the run ends. */
export interface PushProgress {
  /** A record was read from the input (the bar's total grows as the input streams in). */
  read(): void;
  /** A record is finished. */
  done(result: RecordResult): void;
  stop(): void;
}

const SHOWN: readonly RecordStatus[] = [
  'created',
  'updated',
  'skipped-existing',
  'skipped-done',
  'quarantined',
  'failed',
];

/**
 * Progress of a push on stderr: a cli-progress bar on a TTY (records done of records read, with counts per
 * outcome), otherwise a plain line every few seconds so that logs stay readable.
 */
export function createPushProgress(out: PushProgressStream, options: PushProgressOptions = {}): PushProgress {
  const live = options.live ?? Boolean(out.isTTY);
  const now = options.now ?? Date.now;
  const intervalMs = options.intervalMs ?? 5_000;
  const counts = new Map<RecordStatus, number>();
  let read = 0;
  let finished = 0;
  const summary = () =>
    SHOWN.filter((s) => (counts.get(s) ?? 0) > 0)
      .map((s) => `${counts.get(s)} ${s}`)
      .join(', ') || 'nothing yet';

  if (live) {
    const bar = new cliProgress.SingleBar(
      {
        format: ' push |{bar}| {value}/{total} records | {summary}',
        hideCursor: true,
        clearOnComplete: false,
        stream: out as unknown as NodeJS.WritableStream,
        noTTYOutput: false,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    // cli-progress gives the cursor and line wrap back when stopped; this also does on an abrupt exit.
    const giveBack = takeTerminal(out);
    bar.start(0, 0, { summary: summary() });
    return {
      read() {
        read += 1;
        bar.setTotal(read);
      },
      done(result) {
        finished += 1;
        counts.set(result.status, (counts.get(result.status) ?? 0) + 1);
        bar.update(finished, { summary: redact(summary()) });
      },
      stop() {
        bar.stop();
        giveBack();
      },
    };
  }

  let last = now();
  return {
    read() {
      read += 1;
    },
    done(result) {
      finished += 1;
      counts.set(result.status, (counts.get(result.status) ?? 0) + 1);
      if (now() - last >= intervalMs) {
        last = now();
        out.write(`${redact(`push: ${finished}/${read} records — ${summary()}`)}\n`);
      }
    },
    stop() {},
  };
}
