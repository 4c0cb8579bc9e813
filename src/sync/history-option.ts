/** `--history` (and a flow's `options.history`): which streams keep every version in `<stream>_history`. */

import { STREAMS } from '../streams/index.js';
import { closest } from '../util/similar.js';

/** Streams that can keep history: those with a single-field key (every catalogue stream today). */
export function historyCapableStreams(): string[] {
  return STREAMS.filter((s) => s.primaryKey.length === 1).map((s) => s.name);
}

/** A `--history` value named a stream that does not exist (or cannot keep history). */
export class HistoryOptionError extends Error {
  override name = 'HistoryOptionError';
}

/**
 * The streams a `--history` value names: a comma-separated list of stream names, or `all` (every stream
 * that can keep history). Empty entries are ignored; an unknown name is an error listing the valid ones.
 * @example parseHistoryStreams('applications,candidates') // ['applications', 'candidates']
 */
export function parseHistoryStreams(value: string | readonly string[]): string[] {
  const names = (typeof value === 'string' ? value.split(',') : [...value])
    .map((s) => s.trim())
    .filter(Boolean);
  const valid = historyCapableStreams();
  if (names.includes('all')) return valid;
  const known = new Set(valid);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const hints = unknown.flatMap((n) => closest(n, valid).map((near) => `${near} for ${n}`));
    throw new HistoryOptionError(
      `unknown stream${unknown.length > 1 ? 's' : ''} for history: ${unknown.join(', ')}${
        hints.length > 0 ? ` (did you mean ${hints.join(', ')}?)` : ''
      }; valid: all, ${valid.join(', ')}`,
    );
  }
  return [...new Set(names)];
}
