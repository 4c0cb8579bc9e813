import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openControlStore } from '../../src/control/index.js';
import { Vault } from '../../src/vault/index.js';
import { makeTempHome, removeAll } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const cleanup: string[] = [];
afterEach(() => removeAll(cleanup));

function run(
  home: string,
  prefix: string,
  count: number,
  barrier: string,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'fixtures/add-many.ts'), prefix, String(count), barrier, '2'],
      {
        cwd: root,
        env: { ...process.env, ASHPIPE_HOME: home, ASHPIPE_MASTER_KEY: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('two processes sharing one vault', () => {
  it('both add and rotate credentials at once without losing or corrupting any', async () => {
    const home = makeTempHome(cleanup);
    const n = 25;
    const barrier = path.join(path.dirname(home), 'barrier');
    fs.mkdirSync(barrier);
    const [a, b] = await Promise.all([run(home, 'alpha', n, barrier), run(home, 'beta', n, barrier)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const store = openControlStore(home);
    expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
    const vault = new Vault(store, { home, env: {} });
    expect(vault.list()).toHaveLength(2 * n);
    for (const prefix of ['alpha', 'beta']) {
      for (let i = 0; i < n; i++) {
        const expected = i % 3 === 0 ? `key-${prefix}-${i}-rotated-000` : `key-${prefix}-${i}-0123456789`;
        expect(vault.reveal(`${prefix}-${i}`, 'test').apiKey).toBe(expected);
      }
    }
    store.close();
  }, 60_000);
});
