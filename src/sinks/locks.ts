/**
 * What the three sinks share about stream locks: who this process is, when a recorded holder is provably
 * gone, and the heartbeat that keeps a held lock fresh and notices when it was lost.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { defined } from '../util/defined.js';
import {
  LOCK_HEARTBEAT_MS,
  LOCK_STALE_MS,
  type LockHolder,
  LockLostError,
  type StreamLock,
} from './types.js';

/** A lock record as the SQLite and JSONL sinks store it: the holder and a token unique to the holding. */
export interface LockRecord extends LockHolder {
  /** Random per holding: two runs in one process are two holders. */
  token: string;
}

/** A fresh record for this process taking a lock now. */
export function newLockRecord(label: string | undefined, now: Date = new Date()): LockRecord {
  const at = now.toISOString();
  return {
    token: randomUUID(),
    pid: process.pid,
    host: os.hostname(),
    since: at,
    heartbeatAt: at,
    ...defined({ label }),
  };
}

/** Whether a process with this pid exists on this host (one that belongs to another user counts). */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the holder of a lock record is provably gone: it runs on this host and its pid no longer
 * exists, or its heartbeat is older than `staleMs` (another host, or a pid reused since its holder died).
 */
export function holderIsGone(holder: LockHolder, now: Date = new Date(), staleMs = LOCK_STALE_MS): boolean {
  const beat = Date.parse(holder.heartbeatAt ?? holder.since);
  if (Number.isNaN(beat) || now.getTime() - beat > staleMs) return true;
  return holder.host === os.hostname() && !processExists(holder.pid);
}

/** How one sink refreshes and gives up a lock it holds. */
export interface LockBackend {
  /** Records that the holder is alive; resolves `false` when the lock is no longer this holding's. */
  beat(): Promise<boolean>;
  /** Removes the lock (only when it is still this holding's). */
  release(): Promise<void>;
}

/**
 * The locks a sink holds, with one heartbeat timer for all of them. A lock whose heartbeat finds it taken
 * over (or failing) is marked lost; the engine checks before each page and fails the stream.
 */
export class LockKeeper {
  private readonly held = new Map<HeldLock, LockBackend>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = LOCK_HEARTBEAT_MS) {}

  /** Wraps a freshly taken lock and starts beating it. */
  hold(stream: string, backend: LockBackend): StreamLock {
    const lock = new HeldLock(stream, backend, (l) => this.forget(l));
    this.held.set(lock, backend);
    if (!this.timer) {
      this.timer = setInterval(() => void this.beatAll(), this.intervalMs);
      // A heartbeat alone must not keep a finished process alive.
      this.timer.unref();
    }
    return lock;
  }

  /** Marks every held lock lost (their connection died). */
  loseAll(reason: string): void {
    for (const lock of this.held.keys()) lock.markLost(reason);
  }

  /** Releases every lock still held (the sink is closing). */
  async releaseAll(): Promise<void> {
    await Promise.allSettled([...this.held.keys()].map((l) => l.release()));
    this.stop();
  }

  private forget(lock: HeldLock): void {
    this.held.delete(lock);
    if (this.held.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beatAll(): Promise<void> {
    for (const [lock, backend] of this.held) {
      if (lock.isLost) continue;
      try {
        if (!(await backend.beat())) lock.markLost('it was taken over by another run');
      } catch (error) {
        lock.markLost(`its heartbeat failed: ${(error as Error).message}`);
      }
    }
  }
}

class HeldLock implements StreamLock {
  private lost: string | undefined;
  private released = false;

  constructor(
    readonly stream: string,
    private readonly backend: LockBackend,
    private readonly onRelease: (lock: HeldLock) => void,
  ) {}

  get isLost(): boolean {
    return this.lost !== undefined;
  }

  markLost(reason: string): void {
    this.lost ??= reason;
  }

  assertHeld(): void {
    if (this.released) throw new LockLostError(`the lock of ${this.stream} was released`);
    if (this.lost !== undefined) throw new LockLostError(`lost the lock of ${this.stream}: ${this.lost}`);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.onRelease(this);
    try {
      // Token-guarded: a lock taken over since is left to its new holder.
      await this.backend.release();
    } catch (error) {
      if (this.lost === undefined) throw error;
    }
  }
}
