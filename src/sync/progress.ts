import cliProgress from 'cli-progress';
import type { ProgressStream } from '../util/progress-stream.js';
import { redact } from '../util/redact.js';
import type { EndpointCounters } from './counters.js';
import { formatDuration } from './duration.js';
import type { SyncEvent } from './types.js';

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /**
   * Live bars (TTY) or plain periodic lines.
   * @default the stream's `isTTY`
   */
  live?: boolean;
  /**
   * Interval of the plain lines.
   * @default 10_000
   * @example 2_000
   */
  intervalMs?: number;
  /** Supplies requests/retries per endpoint for the lines. */
  counters?: EndpointCounters;
}

interface Live {
  endpoint: string;
  mode: string;
  records: number;
  pages: number;
  startedAt: number;
}

/** Receives engine events; call `stop()` when the run ends. */
export interface Progress {
  onEvent(event: SyncEvent): void;
  stop(): void;
}

/**
 * Progress on stderr: one live line per stream on a TTY (records, pages, rate, retries), otherwise a
 * plain line per finished stream and a periodic line for the streams still running.
 */
export function createProgress(out: ProgressStream, options: ProgressOptions = {}): Progress {
  const live = options.live ?? Boolean(out.isTTY);
  const running = new Map<string, Live>();
  const endpoints = new Map<string, string>();
  const retriesOf = (stream: string): number => {
    const endpoint = endpoints.get(stream);
    return endpoint && options.counters ? options.counters.get(endpoint).retries : 0;
  };
  const rate = (l: Live): string => {
    const s = (Date.now() - l.startedAt) / 1000;
    return s > 0 ? `${Math.round(l.records / s)}/s` : '-';
  };

  if (live) {
    const multibar = new cliProgress.MultiBar(
      {
        format:
          ' {stream} | {mode} | {records} records | {pages} pages | {rate} | {retries} retries | {status}',
        hideCursor: true,
        clearOnComplete: false,
        stream: out as unknown as NodeJS.WritableStream,
        forceRedraw: false,
        noTTYOutput: false,
      },
      cliProgress.Presets.legacy,
    );
    const bars = new Map<string, cliProgress.SingleBar>();
    const payload = (stream: string, l: Live, status: string) => ({
      stream: stream.padEnd(28),
      mode: l.mode.padEnd(11),
      records: l.records,
      pages: l.pages,
      rate: rate(l),
      retries: retriesOf(stream),
      status,
    });
    return {
      onEvent(event) {
        if (event.type === 'stream-start') {
          endpoints.set(event.stream, event.endpoint);
          const l: Live = { endpoint: '', mode: event.mode, records: 0, pages: 0, startedAt: Date.now() };
          running.set(event.stream, l);
          const bar = bars.get(event.stream) ?? multibar.create(1, 0, payload(event.stream, l, 'running'));
          bars.set(event.stream, bar);
          bar.update(0, payload(event.stream, l, 'running'));
        } else if (event.type === 'page') {
          const l = running.get(event.stream);
          if (!l) return;
          l.records = event.records;
          l.pages = event.pages;
          bars.get(event.stream)?.update(0, payload(event.stream, l, 'running'));
        } else if (event.type === 'stream-end') {
          endpoints.set(event.result.stream, event.result.endpoint);
          const l = running.get(event.result.stream) ?? {
            endpoint: event.result.endpoint,
            mode: event.result.mode ?? '-',
            records: 0,
            pages: 0,
            startedAt: Date.now(),
          };
          l.records = event.result.records;
          l.pages = event.result.pages;
          const bar =
            bars.get(event.result.stream) ?? multibar.create(1, 0, payload(event.result.stream, l, ''));
          bar.update(1, payload(event.result.stream, l, event.result.status));
          running.delete(event.result.stream);
        } else if (event.type === 'warning') {
          multibar.log(`${redact(`warning: ${event.stream ? `${event.stream}: ` : ''}${event.message}`)}\n`);
        }
      },
      stop() {
        multibar.stop();
      },
    };
  }

  const write = (line: string) => out.write(`${redact(line)}\n`);
  const timer = setInterval(() => {
    if (running.size === 0) return;
    const parts = [...running.entries()].map(([name, l]) => {
      const retries = retriesOf(name);
      return `${name} ${l.records} records/${l.pages} pages (${rate(l)}${retries > 0 ? `, ${retries} retries` : ''})`;
    });
    write(`sync: running ${parts.join(', ')}`);
  }, options.intervalMs ?? 10_000);
  timer.unref();
  return {
    onEvent(event) {
      if (event.type === 'stream-start') {
        endpoints.set(event.stream, event.endpoint);
        running.set(event.stream, {
          endpoint: '',
          mode: event.mode,
          records: 0,
          pages: 0,
          startedAt: Date.now(),
        });
        write(`sync: ${event.stream} ${event.mode} pass (${event.reason})`);
      } else if (event.type === 'page') {
        const l = running.get(event.stream);
        if (l) {
          l.records = event.records;
          l.pages = event.pages;
        }
      } else if (event.type === 'stream-end') {
        running.delete(event.result.stream);
        const r = event.result;
        const detail =
          r.status === 'ok'
            ? `${r.records} records, ${r.pages} pages, ${r.inserted} inserted, ${r.updated} updated, ${r.deleted} deleted`
            : (r.error?.message ?? r.reason);
        write(`sync: ${r.stream} ${r.status} in ${formatDuration(r.durationMs)}: ${detail}`);
      } else if (event.type === 'warning') {
        write(`warning: ${event.stream ? `${event.stream}: ` : ''}${event.message}`);
      }
    },
    stop() {
      clearInterval(timer);
    },
  };
}
