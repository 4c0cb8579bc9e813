import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockLostError, openSink, type Sink, type StreamLock } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { describeHolder, runSync } from '../../src/sync/index.js';
import { readState } from '../../src/sync/state.js';
import { FakeSource } from './fake-source.js';

let dir: string;
let sink: Sink;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  sink = openSink(`sqlite:${path.join(dir, 'db.sqlite')}`);
  await sink.open();
});
afterEach(async () => {
  await sink.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The sink, with a lock that is lost once `afterPages` pages of candidates were committed. */
function losingLock(afterPages: number): Sink {
  let pages = 0;
  let lost = false;
  return new Proxy(sink, {
    get(target, property, receiver) {
      if (property === 'lock') {
        return async (stream: string) => {
          const attempt = await target.lock(stream);
          if (!attempt.acquired) return attempt;
          const lock: StreamLock = {
            stream,
            assertHeld: () => {
              if (lost)
                throw new LockLostError(`lost the lock of ${stream}: it was taken over by another run`);
              attempt.lock.assertHeld();
            },
            release: () => attempt.lock.release(),
          };
          return { acquired: true, lock };
        };
      }
      if (property === 'upsertPage') {
        return async (...args: Parameters<Sink['upsertPage']>) => {
          const result = await target.upsertPage(...args);
          if (++pages === afterPages) lost = true;
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a run that loses its lock', () => {
  it('fails the stream before its next write, keeps the last committed page, and the next run resumes there', async () => {
    const source = new FakeSource(2);
    source.set(
      'candidate.list',
      Array.from({ length: 9 }, (_, i) => ({ id: `c${i}` })),
    );
    const streams = selectStreams({ streams: ['candidates'] });
    const failed = await runSync({ client: source, sink: losingLock(2), streams });
    expect(failed.exitCode).toBe(3);
    expect(failed.streams[0]).toMatchObject({ status: 'failed', pages: 2 });
    expect(failed.streams[0]?.error?.message).toBe(
      'lost the lock of candidates: it was taken over by another run',
    );
    expect(readState(await sink.getState('candidates'))).toMatchObject({ pagesCommitted: 2, cursor: '4' });
    // The lock itself was released on the way out.
    const again = await sink.lock('candidates');
    expect(again.acquired).toBe(true);
    if (again.acquired) await again.lock.release();

    const resumed = await runSync({ client: source, sink, streams });
    expect(resumed.streams[0]).toMatchObject({ status: 'ok', pages: 3 });
    expect(resumed.streams[0]?.reason).toContain('resumed the interrupted full pass after page 2');
  });
});

describe('the holder named to a refused run', () => {
  const now = new Date('2026-03-02T12:30:00.000Z');
  it.each([
    [
      { pid: 4242, host: 'etl-1', since: '2026-03-02T12:01:07.000Z' },
      'candidates is being synced by pid 4242 on host etl-1 since 12:01:07 UTC',
    ],
    [
      { pid: 7, host: 'h', since: '2026-03-01T23:59:59.000Z', label: 'flow "Nightly" (run run_1)' },
      'candidates is being synced by pid 7 on host h (flow "Nightly" (run run_1)) since 2026-03-01 23:59:59 UTC',
    ],
    [undefined, 'candidates is being synced by another run'],
  ])('%j', (holder, text) => {
    expect(describeHolder('candidates', holder, now)).toBe(text);
  });
});

describe('a target that cannot be locked', () => {
  it('fails the stream with the reason; the run still returns its summary', async () => {
    const source = new FakeSource(2);
    source.set('candidate.list', [{ id: 'c1' }]);
    source.set('user.list', [{ id: 'u1' }]);
    const broken = new Proxy(sink, {
      get(target, property, receiver) {
        if (property === 'lock') {
          return async (stream: string) => {
            if (stream === 'candidates') throw new Error('database or disk is full');
            return target.lock(stream);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const summary = await runSync({
      client: source,
      sink: broken,
      streams: selectStreams({ streams: ['candidates', 'users'] }),
    });
    expect(summary.exitCode).toBe(3);
    expect(summary.streams.map((s) => [s.stream, s.status, s.error?.message])).toEqual([
      ['users', 'ok', undefined],
      ['candidates', 'failed', 'database or disk is full'],
    ]);
  });
});
