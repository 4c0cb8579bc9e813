import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addQuarantine } from '../../src/push/ledger.js';
import { runCli } from '../support/cli.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  await removeControlTargets();
});
function home(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  dirs.push(dir);
  return dir;
}
const masterKey = Buffer.alloc(32, 9).toString('base64');

describe('commands on a PostgreSQL control store', () => {
  it('erase with an unreachable ASHPIPE_CONTROL_URL fails in one line naming the store (no password), and leaves no control.db', async () => {
    const dir = home();
    const run = await runCli(['erase', '--candidate', 'c1', '--to', 'out.db'], {
      ASHPIPE_HOME: dir,
      ASHPIPE_MASTER_KEY: masterKey,
      ASHPIPE_CONTROL_URL: 'postgres://ashpipe:hunter2-secret@db.invalid/ashpipe',
    });
    expect(run.code).not.toBe(0);
    expect(run.err.trim().split('\n')).toHaveLength(1);
    expect(run.err).toContain(
      'error: the control store at postgres://ashpipe@db.invalid/ashpipe could not be opened',
    );
    expect(run.err + run.out).not.toContain('hunter2-secret');
    expect(fs.existsSync(path.join(dir, 'control.db'))).toBe(false);
  });

  it('refuses a control URL that is not postgres://', async () => {
    const run = await runCli(['serve', '--port', '0', '--control', 'mysql://db/ashpipe'], {
      ASHPIPE_HOME: home(),
    });
    expect(run.code).toBe(2);
    expect(run.err).toContain('the control store URL must be postgres://');
  });

  const pg = controlDialects('serve on a PostgreSQL control store').includes('postgres');
  it.runIf(pg)(
    'quarantine commands run on the PostgreSQL store ASHPIPE_CONTROL_URL or --control names, leaving no control.db',
    async () => {
      const target = newControlTarget('postgres');
      const env = { ASHPIPE_HOME: target.home, ASHPIPE_MASTER_KEY: masterKey };
      const control = await openTarget(target);
      let id: number;
      try {
        id = await addQuarantine(control, {
          runId: 'run-1',
          operation: 'candidate.create',
          rowNumber: 3,
          errorCode: 'invalid_record',
          errorMessage: 'email: not an email address',
          raw: { name: 'Ada', email: 'nope' },
        });
      } finally {
        await control.close();
      }
      const list = await runCli(['quarantine', 'list', '--json'], {
        ...env,
        ASHPIPE_CONTROL_URL: target.url,
      });
      expect(list.code, list.err).toBe(0);
      expect(JSON.parse(list.out)).toMatchObject([
        {
          id,
          operation: 'candidate.create',
          rowNumber: 3,
          raw: { name: 'Ada', email: 'nope' },
          status: 'open',
        },
      ]);
      const dismiss = await runCli(['quarantine', 'dismiss', String(id), '--control', target.url ?? ''], env);
      expect(dismiss.code, dismiss.err).toBe(0);
      const again = await runCli(['quarantine', 'dismiss', String(id), '--control', target.url ?? ''], env);
      expect(again.code).toBe(2);
      expect(again.err.trim()).toBe(`error: quarantine entry ${id} is already dismissed`);
      expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(false);
    },
  );
});
