import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Vault } from '../../src/vault/index.js';
import { assertBuilt } from '../support/built-cli.js';
import {
  type ControlTarget,
  controlDialects,
  newControlTarget,
  openTarget,
  removeControlTargets,
} from '../support/control.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
beforeAll(() => assertBuilt());
afterEach(() => removeControlTargets());

function run(
  target: ControlTarget,
  prefix: string,
  count: number,
  barrier: string,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(here, 'fixtures/add-many.mjs'), prefix, String(count), barrier, '2'],
      {
        cwd: root,
        env: {
          ...process.env,
          ASHPIPE_HOME: target.home,
          ASHPIPE_MASTER_KEY: '',
          ASHPIPE_CONTROL_URL: target.url ?? '',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe.each(controlDialects('the vault on PostgreSQL'))(
  'two processes sharing one vault on %s',
  (dialect) => {
    it('both add and rotate credentials at once without losing or corrupting any', async () => {
      const target = newControlTarget(dialect);
      const n = 15;
      const barrier = path.join(path.dirname(target.home), 'barrier');
      fs.mkdirSync(barrier);
      const [a, b] = await Promise.all([run(target, 'alpha', n, barrier), run(target, 'beta', n, barrier)]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const control = await openTarget(target);
      try {
        if (dialect === 'sqlite') {
          const check = await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(control.db);
          expect(check.rows).toEqual([{ integrity_check: 'ok' }]);
        }
        const vault = new Vault(control, { home: target.home, env: {} });
        expect(await vault.list()).toHaveLength(2 * n);
        for (const prefix of ['alpha', 'beta']) {
          for (let i = 0; i < n; i++) {
            const expected = i % 3 === 0 ? `key-${prefix}-${i}-rotated-000` : `key-${prefix}-${i}-0123456789`;
            expect((await vault.reveal(`${prefix}-${i}`, 'test')).apiKey).toBe(expected);
          }
        }
        // One create per credential and one rotate per third one: no audit entry lost either.
        const actions = (await vault.auditLog()).map((e) => e.action);
        expect(actions.filter((a) => a === 'create')).toHaveLength(2 * n);
        expect(actions.filter((a) => a === 'rotate')).toHaveLength(2 * Math.ceil(n / 3));
      } finally {
        await control.close();
      }
    }, 60_000);
  },
);
