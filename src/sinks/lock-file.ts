/**
 * Lock files for the JSONL sink: one file per stream holding the holder's record. A lock appears whole
 * (written aside, then hard-linked into place, which fails when the name exists), its modification time is
 * its heartbeat, and a provably dead holder's file is moved aside atomically before anyone takes the name.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { holderIsGone, type LockBackend, type LockRecord, newLockRecord } from './locks.js';
import type { LockHolder } from './types.js';

/** Attempts before giving up on a name other runs keep taking and dropping. */
const ATTEMPTS = 5;

/** What {@link tryLockFile} found. */
export type FileLockAttempt =
  | { acquired: true; backend: LockBackend }
  | { acquired: false; holder: LockHolder | undefined };

/** A lock file as read back: its record (the heartbeat being the file's modification time). */
interface Found {
  record: LockRecord;
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Reads a lock file; `undefined` when it does not exist. An unreadable record is kept as a stranger's. */
function readLock(file: string): Found | undefined {
  let text: string;
  let mtime: Date;
  try {
    text = fs.readFileSync(file, 'utf8');
    mtime = fs.statSync(file).mtime;
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  }
  const beat = mtime.toISOString();
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    if (
      typeof parsed.token === 'string' &&
      typeof parsed.pid === 'number' &&
      typeof parsed.host === 'string'
    ) {
      return {
        record: {
          token: parsed.token,
          pid: parsed.pid,
          host: parsed.host,
          since: typeof parsed.since === 'string' ? parsed.since : beat,
          heartbeatAt: beat,
          ...(typeof parsed.label === 'string' ? { label: parsed.label } : {}),
        },
      };
    }
  } catch {
    // Fall through: a damaged file is judged by its age alone.
  }
  return { record: { token: '', pid: -1, host: '', since: beat, heartbeatAt: beat } };
}

/** Writes `text` whole (a short write is continued, not ignored) and flushes it. */
export function writeFully(fd: number, text: string): void {
  const buffer = Buffer.from(text);
  let done = 0;
  while (done < buffer.length) done += fs.writeSync(fd, buffer, done, buffer.length - done);
  fs.fsyncSync(fd);
}

/** Creates the lock file with `record` in one step; false when the name is taken. */
function createWhole(file: string, record: LockRecord): boolean {
  const aside = `${file}.${record.token}.tmp`;
  const fd = fs.openSync(aside, 'wx', 0o600);
  try {
    writeFully(fd, `${JSON.stringify(record)}\n`);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(aside, file);
    return true;
  } catch (error) {
    if (code(error) === 'EEXIST') return false;
    if (code(error) !== 'EPERM' && code(error) !== 'ENOTSUP' && code(error) !== 'EXDEV') throw error;
    // A filesystem without hard links: exclusive create (a reader may see the file empty for a moment).
    try {
      fs.copyFileSync(aside, file, fs.constants.COPYFILE_EXCL);
      return true;
    } catch (copyError) {
      if (code(copyError) === 'EEXIST') return false;
      throw copyError;
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/**
 * Moves a dead holder's lock file aside. When the file moved turns out to be a newer holder's (taken
 * between our look and our move), it is put back unless the name was taken again meanwhile.
 */
function clearStale(file: string, judged: LockRecord): void {
  const aside = `${file}.${randomUUID()}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if (code(error) === 'ENOENT') return;
    throw error;
  }
  try {
    const moved = readLock(aside);
    if (moved && moved.record.token !== judged.token) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // The name was taken again: the holder we displaced finds its lock gone at its next heartbeat.
      }
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

/**
 * Takes the lock file `file` for this process, taking over a holder that is provably gone, or reports
 * who holds it.
 * @example const attempt = tryLockFile('out/_ashpipe_locks/candidates.lock', 'ashpipe sync');
 */
export function tryLockFile(file: string, label: string | undefined): FileLockAttempt {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const mine = newLockRecord(label);
  let last: Found | undefined;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (createWhole(file, mine)) return { acquired: true, backend: backendFor(file, mine.token) };
    last = readLock(file);
    if (!last) continue;
    if (!holderIsGone(last.record)) break;
    clearStale(file, last.record);
    last = undefined;
  }
  if (!last) return { acquired: false, holder: undefined };
  const { token: _token, ...holder } = last.record;
  return { acquired: false, holder: holder.pid > 0 ? holder : undefined };
}

function backendFor(file: string, token: string): LockBackend {
  return {
    beat: async () => {
      if (readLock(file)?.record.token !== token) return false;
      const now = new Date();
      fs.utimesSync(file, now, now);
      return true;
    },
    release: async () => {
      if (readLock(file)?.record.token === token) fs.rmSync(file, { force: true });
    },
  };
}
