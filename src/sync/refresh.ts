/**
 * Refresh intervals of the streams without a sync token: such a stream can only be read in full, so a run
 * reads it again only when its last complete read is older than its interval (or `--refresh` asks). A
 * no-change run then costs about one request per incremental stream.
 */
import { findStream } from '../streams/index.js';
import { defined } from '../util/defined.js';
import { parseDuration } from './duration.js';

/** How long a stream without a sync token stays fresh unless it or the run says otherwise. */
export const DEFAULT_REFRESH_AFTER_MS = 24 * 3_600_000;

/** Refresh intervals given by the user: one for every stream, and per stream. */
export interface RefreshAfter {
  /**
   * Interval of every stream without a sync token not named in `streams`, in ms; 0 reads them every run.
   * @default each stream's own (24 h unless its definition says otherwise)
   * @example 3_600_000
   */
  all?: number;
  /**
   * Interval per stream name, in ms; 0 reads it every run.
   * @example { sources: 604_800_000, approvals: 0 }
   */
  streams?: Readonly<Record<string, number>>;
}

/** The interval of one stream: the user's for it, else the user's for all, else its own, else the default. */
export function refreshAfterOf(
  stream: { name: string; refreshAfterMs?: number },
  given: RefreshAfter,
): number {
  return given.streams?.[stream.name] ?? given.all ?? stream.refreshAfterMs ?? DEFAULT_REFRESH_AFTER_MS;
}

/** Thrown for a refresh interval that cannot be read; the message names the part that is wrong. */
export class RefreshAfterError extends Error {
  override name = 'RefreshAfterError';
}

/**
 * Parses `24h`, `sources=7d,approvals=0` or both (`12h,approvals=0`): a bare duration sets every stream
 * without a sync token, `stream=duration` one of them. `0` reads every run, `never` only when `--refresh`
 * (or a first run) asks.
 * @throws RefreshAfterError naming the part that is not a duration or not a stream without a sync token
 */
export function parseRefreshAfter(text: string): RefreshAfter {
  const result: { all?: number; streams: Record<string, number> } = { streams: {} };
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? undefined : part.slice(0, eq).trim();
    const value = eq < 0 ? part : part.slice(eq + 1).trim();
    const ms = durationOf(value);
    if (ms === undefined) {
      throw new RefreshAfterError(
        `"${part}": expected a duration like 24h, 30m, 7d, 0 or never${name === undefined ? '' : ` after ${name}=`}`,
      );
    }
    if (name === undefined) {
      result.all = ms;
      continue;
    }
    const stream = findStream(name);
    if (!stream) throw new RefreshAfterError(`"${part}": unknown stream ${name}`);
    if (stream.incremental) {
      throw new RefreshAfterError(
        `"${part}": ${name} has a sync token and reads only its changes on every run; refresh intervals are for streams without one`,
      );
    }
    result.streams[name] = ms;
  }
  return {
    ...defined({ all: result.all }),
    ...(Object.keys(result.streams).length > 0 ? { streams: result.streams } : {}),
  };
}

function durationOf(value: string): number | undefined {
  const v = value.trim().toLowerCase();
  if (v === '0') return 0;
  if (v === 'never' || v === 'off') return Number.POSITIVE_INFINITY;
  const ms = parseDuration(v);
  return ms === null ? undefined : ms;
}
