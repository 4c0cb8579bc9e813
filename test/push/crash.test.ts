/**
 * kill -9 at random points of a push, then a rerun: every record is applied exactly once. The push runs
 * in a child process (the real CLI); the sandbox runs here and counts creates per email.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findEndpoint } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { prng, removeAll, tempDir } from './helpers.js';

const ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));
const RECORDS = 6;
const cleanup: string[] = [];
afterAll(() => removeAll(cleanup));

/**
 * Forwards to the sandbox at once but holds the answer of every write past the client's timeout: the
 * write is applied, the client sees a timeout after its request left (outcome unknown).
 */
async function slowWriteProxy(target: string, holdMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const endpoint = (req.url ?? '/').slice(1);
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method ?? 'POST',
          headers: {
            authorization: String(req.headers.authorization ?? ''),
            'content-type': 'application/json',
          },
          body: Buffer.concat(chunks),
        });
        const text = await answer.text();
        if (findEndpoint(endpoint)?.access === 'write') await new Promise((r) => setTimeout(r, holdMs));
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        });
        res.end(text);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== null && code !== 0 && code !== 3)
        process.stderr.write(`push child exited ${code}: ${stderr}\n`);
      resolve(code);
    }),
  );
  return { child, exit };
}

const totalRequests = (sandbox: Sandbox) =>
  Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);

type Mode = 'plain' | 'truncated-answers' | 'write-timeouts';

interface TrialOutcome {
  killed: boolean;
  creates: number[];
  rerunExit: number | null;
  statuses: string[];
  /** Records the rerun found in flight and settled by looking them up. */
  reconciled: number;
}

async function trial(seed: number, mode: Mode): Promise<TrialOutcome> {
  const random = prng(seed);
  const dir = tempDir(cleanup);
  const sandbox = await startSandbox({ scale: 5, seed, faults: { latencyMs: 10 } });
  const proxy = mode === 'write-timeouts' ? await slowWriteProxy(sandbox.url, 400) : undefined;
  try {
    const emails = Array.from({ length: RECORDS }, (_, i) => `crash.${seed}.${i}@example.com`);
    const input = path.join(dir, 'in.jsonl');
    fs.writeFileSync(
      input,
      emails.map((email, i) => JSON.stringify({ name: `Crash ${i}`, email })).join('\n'),
    );
    const env = { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_API_KEY: 'sandbox-full' };
    const args = (url: string, extra: string[] = []) => [
      'push',
      '--endpoint',
      'candidate.create',
      '--input',
      input,
      '--api-key-env',
      'ASHBY_API_KEY',
      '--base-url',
      url,
      '--concurrency',
      '3',
      ...extra,
    ];
    if (mode === 'truncated-answers') sandbox.faults.set({ truncateRate: 0.5, seed });

    // Kill once the sandbox has seen a random number of requests (a look-up or a write of some record),
    // plus a random few milliseconds, so kills land before, during and after writes.
    const target = 1 + Math.floor(random() * RECORDS * 2);
    const extraMs = Math.floor(random() * 25);
    const first = runCli(
      args(proxy?.url ?? sandbox.url, mode === 'write-timeouts' ? ['--request-timeout', '200'] : []),
      env,
    );
    let killed = false;
    const watcher = setInterval(() => {
      if (totalRequests(sandbox) >= target) {
        clearInterval(watcher);
        setTimeout(() => {
          killed = first.child.kill('SIGKILL');
        }, extraMs);
      }
    }, 2);
    await first.exit;
    clearInterval(watcher);
    // Whatever the killed process left in the sandbox's queue is applied before the rerun starts.
    await new Promise((r) => setTimeout(r, 50));
    sandbox.faults.reset();

    const results = path.join(dir, 'results.jsonl');
    const rerun = runCli(args(sandbox.url, ['--results', results]), env);
    const rerunExit = await rerun.exit;
    const lines = fs
      .readFileSync(results, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { status: string; reconciled?: boolean });
    const statuses = lines.map((l) => l.status);
    const reconciled = lines.filter((l) => l.reconciled === true).length;
    const byKey = sandbox.stats().writesByKey['candidate.create'] ?? {};
    return { killed, creates: emails.map((e) => byKey[e] ?? 0), rerunExit, statuses, reconciled };
  } finally {
    await new Promise<void>((r) => (proxy ? proxy.server.close(() => r()) : r()));
    await sandbox.close();
  }
}

describe('kill -9 at random points of a push, then rerun', () => {
  it('applies every record exactly once over 21 trials (plain, truncated answers, writes timing out)', async () => {
    const modes: Mode[] = ['plain', 'truncated-answers', 'write-timeouts'];
    const seeds = Array.from({ length: 21 }, (_, i) => 1000 + i);
    const outcomes: Array<TrialOutcome & { seed: number; mode: Mode }> = [];
    // Two trials at a time: each spawns Node twice, and the machine has two cores.
    const queue = [...seeds];
    await Promise.all(
      [0, 1].map(async () => {
        for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
          const mode = modes[seed % modes.length] as Mode;
          outcomes.push({ seed, mode, ...(await trial(seed, mode)) });
        }
      }),
    );
    if (process.env.ASHPIPE_CRASH_DEBUG) console.log(JSON.stringify(outcomes));
    for (const o of outcomes) {
      const context = `seed ${o.seed} (${o.mode})`;
      expect(o.creates, context).toEqual(Array(RECORDS).fill(1));
      expect(o.rerunExit, context).toBe(0);
      expect(
        o.statuses.every((s) => s === 'created' || s === 'skipped-done'),
        context,
      ).toBe(true);
    }
    // The kills must actually land mid-run in most trials, or the test proves nothing.
    expect(outcomes.filter((o) => o.killed).length).toBeGreaterThanOrEqual(15);
    // Some kills landed while a write was in flight and the rerun settled it by look-up, not by resending.
    expect(outcomes.reduce((n, o) => n + o.reconciled, 0)).toBeGreaterThan(0);
  }, 150_000);
});
