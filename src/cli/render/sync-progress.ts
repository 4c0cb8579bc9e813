import type { EndpointCounters } from '../../sync/counters.js';
import { formatDuration } from '../../sync/duration.js';
import type { SyncEvent } from '../../sync/types.js';
import { redact } from '../../util/redact.js';
import { cutToWidth, sizeOf, type TerminalStream, takeTerminal, up, WRAP_OFF, WRAP_ON } from './terminal.js';
import { count } from './words.js';

/** Options of {@link createSyncProgress}. */
export interface SyncProgressOptions {
  /**
   * A live display redrawn in place (TTY) or plain periodic lines.
   * @default the stream's `isTTY`
   */
  live?: boolean;
  /**
   * Interval of the plain lines.
   * @default 10_000
   * @example 2_000
   */
  intervalMs?: number;
  /**
   * Least time between two redraws of the live display.
   * @default 100
   */
  redrawMs?: number;
  /** Supplies requests/retries per endpoint. */
  counters?: EndpointCounters;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** Receives engine events; call `stop()` when the run ends (it gives the terminal back). */
export interface SyncProgress {
  onEvent(event: SyncEvent): void;
  stop(): void;
}

interface Running {
  endpoint: string;
  mode: string;
  records: number;
  pages: number;
  startedAt: number;
}

/**
 * Progress of a sync on stderr. On a terminal: the streams being read, one line each (as many as the
 * terminal's height allows, the rest counted), and a total line, redrawn in place and cut to its width;
 * finished streams leave the display (the summary lists them). Off a terminal: a periodic line, and a line
 * per stream that failed. Warnings are printed above the display in both.
 */
export function createSyncProgress(out: TerminalStream, options: SyncProgressOptions = {}): SyncProgress {
  const live = options.live ?? Boolean(out.isTTY);
  const now = options.now ?? Date.now;
  const started = now();
  const running = new Map<string, Running>();
  let done = 0;
  let seen = 0;
  let readBefore = 0;
  const retriesOf = (endpoint: string): number => options.counters?.get(endpoint).retries ?? 0;
  const rate = (r: Running): string => {
    const s = (now() - r.startedAt) / 1000;
    return s > 0 && r.records > 0 ? `${Math.round(r.records / s)}/s` : '-';
  };
  const totalRead = () => readBefore + [...running.values()].reduce((n, r) => n + r.records, 0);
  const totalLine = (): string => {
    const t = options.counters?.total();
    return [
      `${done}/${seen} streams done`,
      `${totalRead()} read`,
      ...(t ? [count(t.requests, 'request'), count(t.retries, 'retry', 'retries')] : []),
      formatDuration(now() - started),
    ].join(' · ');
  };
  const track = (event: SyncEvent): void => {
    if (event.type === 'stream-start') {
      if (!running.has(event.stream)) seen += 1;
      running.set(event.stream, {
        endpoint: event.endpoint,
        mode: event.mode,
        records: 0,
        pages: 0,
        startedAt: now(),
      });
    } else if (event.type === 'page') {
      const r = running.get(event.stream);
      if (r) {
        r.records = event.records;
        r.pages = event.pages;
      }
    } else if (event.type === 'stream-end') {
      if (!running.delete(event.result.stream)) seen += 1;
      done += 1;
      readBefore += event.result.records;
    }
  };

  if (live) {
    const giveBack = takeTerminal(out);
    let drawn = 0;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const frame = (): string[] => {
      const { columns, rows } = sizeOf(out);
      // The display and the line the cursor rests on must fit, or the terminal scrolls it apart.
      const room = Math.max(1, rows - 2);
      // Only streams that are reading get a row: with two requests in flight most others are waiting their
      // turn, and a row of zeros each says nothing. The waiting ones share one line.
      const entries = [...running.entries()];
      const reading = entries.filter(([, r]) => r.pages > 0);
      const waiting = entries.length - reading.length;
      const shown = reading.length > room - 1 ? reading.slice(0, Math.max(0, room - 2)) : reading;
      const nameWidth = Math.min(30, Math.max(0, ...shown.map(([name]) => name.length)));
      const lines = shown.map(([name, r]) => {
        const retries = retriesOf(r.endpoint);
        return ` ${name.padEnd(nameWidth)}  ${r.mode.padEnd(11)}  ${String(r.records).padStart(7)} read  ${String(r.pages).padStart(5)} pages  ${rate(r)}${retries > 0 ? `  ${count(retries, 'retry', 'retries')}` : ''}`;
      });
      const more = reading.length - shown.length;
      if (more > 0 || waiting > 0) {
        const parts = [
          ...(more > 0 ? [`${more} more reading`] : []),
          ...(waiting > 0 ? [`${count(waiting, 'stream')} waiting for their first page`] : []),
        ];
        lines.push(` … ${parts.join(', ')}`);
      }
      lines.push(` ${totalLine()}`);
      return lines.map((l) => cutToWidth(redact(l), columns - 1));
    };
    const draw = (): void => {
      timer = undefined;
      if (stopped) return;
      const lines = frame();
      out.write(`${drawn > 0 ? up(drawn) : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
    };
    const schedule = (): void => {
      if (timer || stopped) return;
      timer = setTimeout(draw, options.redrawMs ?? 100);
      timer.unref();
    };
    draw();
    return {
      onEvent(event) {
        track(event);
        if (event.type === 'warning') {
          const text = redact(`warning: ${event.stream ? `${event.stream}: ` : ''}${event.message}`);
          // Warnings wrap like ordinary output, above the display, which is drawn again under them.
          out.write(`${drawn > 0 ? up(drawn) : ''}${WRAP_ON}${text}\n${WRAP_OFF}`);
          drawn = 0;
          draw();
          return;
        }
        schedule();
      },
      stop() {
        if (stopped) return;
        stopped = true;
        if (timer) clearTimeout(timer);
        // The display leaves the screen: the summary that follows lists every stream once.
        if (drawn > 0) out.write(up(drawn));
        drawn = 0;
        giveBack();
      },
    };
  }

  const write = (line: string) => out.write(`${redact(line)}\n`);
  const timer = setInterval(() => {
    if (running.size === 0) return;
    const parts = [...running.entries()].map(([name, r]) => {
      const retries = retriesOf(r.endpoint);
      return `${name} ${r.records} read/${count(r.pages, 'page')} (${rate(r)}${retries > 0 ? `, ${count(retries, 'retry', 'retries')}` : ''})`;
    });
    write(`sync: ${totalLine()}; running ${parts.join(', ')}`);
  }, options.intervalMs ?? 10_000);
  timer.unref();
  return {
    onEvent(event) {
      track(event);
      // Skips come with their warning, and aborts with the run's own message: only failures get a line.
      if (event.type === 'stream-end' && event.result.status === 'failed') {
        const r = event.result;
        write(`sync: ${r.stream} ${r.status}: ${r.error?.message ?? r.reason}`);
      } else if (event.type === 'warning') {
        write(`warning: ${event.stream ? `${event.stream}: ` : ''}${event.message}`);
      }
    },
    stop() {
      clearInterval(timer);
    },
  };
}
