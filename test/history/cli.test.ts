/** `ashpipe sync --history`: a clear usage error for unknown streams; versions written by the real command. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { runCli } from '../support/cli.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { readHistory } from './support.js';

let sandbox: Sandbox;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-history-cli-'));
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 15, seed: 5 });
});
afterAll(async () => {
  await sandbox?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ashpipe sync --history', () => {
  const env = () => ({ ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: path.join(dir, 'home') });

  it('refuses an unknown stream, naming it and listing the valid ones (exit 2)', async () => {
    const db = path.join(dir, 'refused.db');
    const r = await runCli(
      ['sync', '--base-url', sandbox.url, '--to', `sqlite:${db}`, '--history', 'applications,ofers'],
      env(),
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /--history: unknown stream for history: ofers \(did you mean offers for ofers\?\); valid: all, /,
    );
    expect(r.err).toContain('candidates');
    expect(fs.existsSync(db)).toBe(false);
  });

  it('with all, keeps a version of every record of the synced streams', async () => {
    const target = `sqlite:${path.join(dir, 'all.db')}`;
    const r = await runCli(
      [
        'sync',
        '--base-url',
        sandbox.url,
        '--to',
        target,
        '--streams',
        'jobs,offers',
        '--history',
        'all',
        '--json',
      ],
      env(),
    );
    expect(r.code, r.err).toBe(0);
    for (const stream of ['jobs', 'offers']) {
      const h = await readHistory(target, stream);
      const expected = expectedStreamRecords(sandbox, stream);
      expect([...h.keys()].sort()).toEqual(expected.map((x) => String(x.id)).sort());
    }
  });
});
