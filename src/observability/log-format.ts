/**
 * How a command's log reaches the terminal (`--log-format text|json`). The run log file is JSON lines in
 * both; the format decides standard error: `text` keeps the human lines, `json` makes every line on
 * standard error a JSON object (log lines, and the human lines wrapped as `info` lines with the run's ids),
 * so a collector can read standard error without guessing.
 */
import type { ProgressStream } from '../util/progress-stream.js';
import type { Logger } from './logger.js';

/** The format of what a command writes to standard error. */
export type LogFormat = 'text' | 'json';

/** The accepted values of {@link LogFormat}. */
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** Keys every line has; the text rendering shows them in their own place. */
const HEAD = new Set(['time', 'level', 'msg']);

function scalar(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[\s"=]/.test(text ?? '') ? JSON.stringify(text) : (text ?? '');
}

/**
 * A JSON log line as one line of text: `2026-01-02T03:04:05.678Z INFO serve started url=http://…`.
 * A line that is not a JSON object is returned as it is.
 */
export function textLine(jsonLine: string): string {
  let record: unknown;
  try {
    record = JSON.parse(jsonLine);
  } catch {
    return jsonLine;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return jsonLine;
  const r = record as Record<string, unknown>;
  const fields = Object.entries(r)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${scalar(v)}`);
  return [String(r.time ?? ''), String(r.level ?? '').toUpperCase(), String(r.msg ?? ''), ...fields]
    .filter((part) => part !== '')
    .join(' ');
}

/**
 * A stream for human text whose every line is written as an `info` line of `logger` (which adds the run's
 * bindings and redacts it). Partial writes are held until their line ends.
 */
export function jsonLinesStream(logger: Logger): ProgressStream & { flush(): void } {
  let pending = '';
  const emit = (line: string) => {
    const text = line.replace(/\r$/, '');
    if (text.trim() !== '') logger.info(text);
  };
  return {
    isTTY: false,
    write(chunk: string) {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) emit(line);
      return true;
    },
    flush() {
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}
