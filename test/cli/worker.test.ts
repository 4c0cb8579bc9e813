/**
 * `ashpipe worker` refuses what it cannot run with, in one line naming the option or variable, before it
 * connects to anything (exit 2). Running workers: `test/e2e/fleet-workers.test.ts`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-worker-cli-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
/** Never reached: every case is refused before a connection is made. */
const URL = 'postgres://nobody@127.0.0.1:1/none?schema=fleet';

describe('ashpipe worker: usage errors', () => {
  it('needs a PostgreSQL control store, from --control or ASHPIPE_CONTROL_URL', async () => {
    const none = await runCli(['worker'], { ASHPIPE_HOME: home });
    expect(none.code).toBe(2);
    expect(none.err).toContain('ashpipe worker needs the PostgreSQL control store its server uses');
    const file = await runCli(['worker', '--control', path.join(home, 'control.db')], { ASHPIPE_HOME: home });
    expect(file.code).toBe(2);
    expect(file.err).toContain('the control store URL must be postgres://');
  });

  it('names the option or variable that is wrong', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [['--concurrency', '0'], {}, '--concurrency 0 is not a whole number from 1 to 64'],
      [['--concurrency', '1.5'], {}, '--concurrency 1.5 is not a whole number from 1 to 64'],
      [['--name', 'two words'], {}, '--name "two words": use up to 100 letters'],
      [
        [],
        { ASHPIPE_QUEUE_LEASE_SECONDS: 'soon' },
        'ASHPIPE_QUEUE_LEASE_SECONDS=soon is not a positive number',
      ],
      [
        [],
        { ASHPIPE_QUEUE_LEASE_SECONDS: '10', ASHPIPE_QUEUE_HEARTBEAT_SECONDS: '10' },
        'ASHPIPE_QUEUE_HEARTBEAT_SECONDS (10) must be less than ASHPIPE_QUEUE_LEASE_SECONDS (10)',
      ],
      [['--base-url', 'ftp://x'], {}, '--base-url must be an http:// or https:// URL'],
    ];
    for (const [args, env, message] of cases) {
      const result = await runCli(['worker', '--control', URL, ...args], { ASHPIPE_HOME: home, ...env });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err, args.join(' ')).toContain(message);
      expect(result.err.split('\n').filter(Boolean)).toHaveLength(1);
    }
  });
});
