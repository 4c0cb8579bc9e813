import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AshbyRateLimitError } from '../../src/ashby/errors.js';
import type { CliContext } from '../../src/cli/context.js';
import { UsageError } from '../../src/cli/exit-codes.js';
import { Output } from '../../src/cli/output.js';
import { describeTarget, logLevelOf, openRunLog } from '../../src/cli/run-log.js';
import { captureStreams } from '../support/cli.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function context(env: NodeJS.ProcessEnv): CliContext {
  const io = captureStreams();
  return {
    io: io.io,
    env,
    stdin: Readable.from([]),
    output: (json) => new Output(io.io, json),
    setExitCode: () => {},
  };
}

function tempHome(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  dirs.push(dir);
  return path.join(dir, 'home');
}

const lines = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('run log', () => {
  it('shows a target without its password', () => {
    expect(describeTarget('postgres://ashpipe:s3cret-pw@db.internal:5432/warehouse?schema=ashby')).toBe(
      'postgres://ashpipe@db.internal:5432/warehouse?schema=ashby',
    );
    expect(describeTarget('postgres://u@h/db?password=s3cret-pw')).not.toContain('s3cret-pw');
    expect(describeTarget('sqlite:./ashpipe.db')).toBe('sqlite:./ashpipe.db');
    expect(describeTarget('jsonl:exports')).toBe('jsonl:exports');
  });

  it('takes its level from ASHPIPE_LOG_LEVEL and refuses an unknown one', () => {
    expect(logLevelOf({})).toBe('info');
    expect(logLevelOf({ ASHPIPE_LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(() => logLevelOf({ ASHPIPE_LOG_LEVEL: 'verbose' })).toThrow(UsageError);
  });

  it('writes under the home at the chosen level: debug answers only at debug, retries and 429s always', () => {
    const home = tempHome();
    const file = path.join(home, 'logs', 'ashpipe.log');
    const events = (level: string) => {
      const log = openRunLog(context({ ASHPIPE_HOME: home, ASHPIPE_LOG_LEVEL: level }), 'sync');
      expect(log.file).toBe(file);
      log.onClientEvent({ type: 'request', endpoint: 'candidate.list', attempt: 1 });
      log.onClientEvent({
        type: 'response',
        endpoint: 'candidate.list',
        attempt: 1,
        httpStatus: 200,
        durationMs: 12,
        success: true,
        requestId: 'req-1',
      });
      log.onClientEvent({
        type: 'rateLimited',
        endpoint: 'candidate.list',
        retryAfterMs: 1000,
        rateLimitScope: 'key',
      });
      log.onClientEvent({
        type: 'retry',
        endpoint: 'candidate.list',
        attempt: 1,
        delayMs: 1000,
        reason: '429',
      });
      log.failed(
        new AshbyRateLimitError({
          endpoint: 'candidate.list',
          code: 'rate_limit_exceeded',
          message: 'slow down',
          requestId: 'req-2',
          httpStatus: 429,
        }),
      );
    };
    events('info');
    expect(lines(file).map((l) => l.msg)).toEqual(['rate limited', 'retrying', 'sync failed']);
    expect(lines(file)[2]).toMatchObject({
      command: 'sync',
      code: 'rate_limit_exceeded',
      requestId: 'req-2',
    });
    events('debug');
    const all = lines(file);
    expect(all.map((l) => l.msg).slice(3)).toEqual([
      'ashby response',
      'rate limited',
      'retrying',
      'sync failed',
    ]);
    expect(all[3]).toMatchObject({
      endpoint: 'candidate.list',
      httpStatus: 200,
      durationMs: 12,
      requestId: 'req-1',
    });
    // Two runs, two run ids.
    expect(new Set(all.map((l) => l.runId)).size).toBe(2);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });
});
