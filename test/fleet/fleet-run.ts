/** Runs the sync processes of a fleet (`sync-child.mjs`) together; shared by the fleet tests and `bench/fleet.ts`. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { assertBuilt } from '../support/built-cli.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** What one sync process of the fleet reports (times in epoch ms). */
export interface ChildResult {
  requests: number;
  rateLimited: number;
  firstRequestAt: number;
  lastResponseAt: number;
  successAt: number[];
  exitCode: number;
  sharedBudgetFailures: number;
}

/**
 * Starts the sync processes of a fleet (`sync-child.mjs`, on the built code), lets them go together once all
 * are ready, and waits for their ends.
 */
export async function runSyncFleet(all: Record<string, unknown>[]): Promise<ChildResult[]> {
  assertBuilt();
  const readies: Promise<void>[] = [];
  const children = all.map((options) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'test/fleet/sync-child.mjs'), JSON.stringify(options)],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let ready: () => void = () => undefined;
    readies.push(new Promise<void>((r) => (ready = r)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.startsWith('ready\n')) ready();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const done = new Promise<ChildResult>((resolve, reject) => {
      child.on('exit', (code) => {
        if (code !== 0) reject(new Error(`sync child exited with ${code}: ${err}`));
        else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ChildResult);
      });
    });
    return { child, done };
  });
  await Promise.all(readies);
  for (const { child } of children) child.stdin?.end('go\n');
  return Promise.all(children.map((c) => c.done));
}
