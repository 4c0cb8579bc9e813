/**
 * A destination flow's run whose operation's ledger another push owns waits for its turn instead of
 * failing: two flows of `candidate.create` started together (two workers, or one process running two
 * runs) both end, and a run resumed while the dead worker's push is not yet known dead (its heartbeat
 * fresh, on another machine) takes the ledger once that push is over. Every row is created once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { createFlowSchema } from '../../src/server/api-schema.js';
import { pushEngine } from '../../src/server/engines.js';
import type { Flow, RunCount } from '../../src/server/model.js';
import type { RunOutcome } from '../../src/server/services.js';
import { silentLogger } from '../../src/util/logger.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const people = (tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `Wait ${tag} ${i}`, email: `wait.${tag}.${i}@example.com` }));

function destinationFlow(id: string, rows: Array<{ name: string; email: string }>): Flow {
  const config = createFlowSchema.parse({
    kind: 'destination',
    name: id,
    credentialId: 'cred',
    operation: 'candidate.create',
    input: { type: 'jsonl', content: rows.map((r) => JSON.stringify(r)).join('\n') },
  });
  const at = new Date().toISOString();
  return {
    id,
    name: id,
    kind: 'destination',
    credentialId: 'cred',
    schedule: null,
    status: 'active',
    config,
    createdAt: at,
    updatedAt: at,
    activatedAt: at,
    pausedAt: null,
    pausedReason: null,
  };
}

/** Candidates of the sandbox's world with `email`, read from the world itself. */
function candidatesWith(sandbox: Sandbox, email: string): number {
  return sandbox.world.allOf('candidate').filter((c) => {
    const addresses = (c as { emailAddresses?: Array<{ value?: unknown }> }).emailAddresses ?? [];
    return addresses.some((e) => e.value === email);
  }).length;
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 5, seed: 23 });
});
afterAll(async () => {
  await sandbox?.close();
});

const opened: Control[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
  await removeControlTargets();
});

describe.each(controlDialects('destination runs waiting for the ledger'))(
  'destination flows on %s: one push of an operation at a time',
  (dialect) => {
    /** Runs `flow` on the push engine; `progress` collects what it reported. */
    function start(control: Control, flow: Flow, signal = new AbortController().signal) {
      const progress: RunCount[][] = [];
      const outcome: Promise<RunOutcome> = pushEngine(control, { ledgerWaitMs: 10, reconcileDelayMs: 0 })(
        flow,
        {
          runId: `run-${flow.id}`,
          apiKey: 'sandbox-full',
          baseUrl: sandbox.url,
          signal,
          logger: silentLogger,
          dryRun: false,
          progress: (u) => progress.push(u.counts),
        },
      );
      return { outcome, progress };
    }
    const creates = () => sandbox.stats().requests['candidate.create'] ?? 0;

    it('two flows of one operation started together: the second waits, both succeed, each row created once', async () => {
      const control = await openTarget(newControlTarget(dialect));
      opened.push(control);
      const a = people(`${dialect}-a`, 5);
      const b = people(`${dialect}-b`, 5);
      const before = creates();
      const [ra, rb] = await Promise.all([
        start(control, destinationFlow(`a-${dialect}`, a)).outcome,
        start(control, destinationFlow(`b-${dialect}`, b)).outcome,
      ]);
      for (const r of [ra, rb]) {
        expect(r.status, JSON.stringify(r)).toBe('succeeded');
        expect(r.counts).toEqual([expect.objectContaining({ read: 5, written: 5 })]);
      }
      for (const p of [...a, ...b]) expect(candidatesWith(sandbox, p.email), p.email).toBe(1);
      expect(creates() - before).toBe(10);
    });

    /**
     * A control store whose candidate.create ledger a push of another host owns, with a fresh heartbeat
     * (its pid cannot be checked from here).
     */
    async function controlOwnedElsewhere() {
      const control = await openTarget(newControlTarget(dialect));
      opened.push(control);
      const at = new Date().toISOString();
      await control.db
        .insertInto('push_runs')
        .values({
          id: 'elsewhere',
          operation: 'candidate.create',
          input: 'x',
          dry_run: 0,
          started_at: at,
          pid: 4242,
          host: 'another-machine.example',
          heartbeat_at: at,
        })
        .execute();
      return control;
    }

    it('a push on another machine owns the ledger: the run waits, sends nothing, and goes on once it ends', async () => {
      const control = await controlOwnedElsewhere();
      const rows = people(`${dialect}-c`, 3);
      const before = creates();
      const run = start(control, destinationFlow(`c-${dialect}`, rows));
      const deadline = Date.now() + 5_000;
      while (run.progress.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(run.progress[0]).toEqual([
        expect.objectContaining({
          status: 'running',
          read: 0,
          message: expect.stringMatching(/^waiting for another push of candidate\.create/),
        }),
      ]);
      await new Promise((r) => setTimeout(r, 100));
      expect(creates() - before).toBe(0);
      // The other push ends (or its heartbeat grows older than the lease): the run takes its turn.
      await control.db
        .updateTable('push_runs')
        .set({ finished_at: new Date().toISOString(), outcome: 'finished' })
        .where('id', '=', 'elsewhere')
        .execute();
      const outcome = await run.outcome;
      expect(outcome.status, JSON.stringify(outcome)).toBe('succeeded');
      expect(outcome.counts).toEqual([expect.objectContaining({ read: 3, written: 3 })]);
      for (const p of rows) expect(candidatesWith(sandbox, p.email), p.email).toBe(1);
      expect(creates() - before).toBe(3);
    });

    it('stopped while it waits: the run ends at once, interrupted, having read and sent nothing', async () => {
      const control = await controlOwnedElsewhere();
      const before = creates();
      const stop = new AbortController();
      const run = start(control, destinationFlow(`d-${dialect}`, people(`${dialect}-d`, 3)), stop.signal);
      const deadline = Date.now() + 5_000;
      while (run.progress.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      stop.abort(new Error('the worker is stopping'));
      const outcome = await run.outcome;
      expect(outcome).toEqual({
        status: 'failed',
        counts: [
          {
            name: 'candidate.create',
            status: 'failed',
            read: 0,
            written: 0,
            message: 'the run was interrupted while it waited for another push of candidate.create to finish',
          },
        ],
        errors: [
          {
            code: 'aborted',
            message: 'the run was interrupted while it waited for another push of candidate.create to finish',
          },
        ],
      });
      expect(creates() - before).toBe(0);
    });
  },
);
