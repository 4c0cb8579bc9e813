import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { syncAndKill } from '../sync/crash-matrix.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { readHistory } from './support.js';

const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const PAGE_SIZE = 7;
/** Kill points spread over each pass: one in each quarter of the first, one page each of the incremental. */
const TRIALS = 4;
const CHANGED = 30;
const streams = selectStreams({ streams: ['candidates'] });
type Rec = Record<string, unknown>;

const SYNC_ARGS = ['--streams', 'candidates', '--history', 'candidates', '--page-size', String(PAGE_SIZE)];
/** How often the watch counts the sandbox's answers, in ms. */
const POLL_MS = 1;

for (const dialect of DIALECTS) {
  describe(`history survives kill -9 (${dialect})`, () => {
    let sandbox: Sandbox;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-history-crash-'));
    const targets: TestTarget[] = [];
    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 60, seed: 31 });
    });
    afterAll(async () => {
      await sandbox?.close();
      for (const t of targets) await t.cleanup();
      fs.rmSync(home, { recursive: true, force: true });
    });

    const resume = (target: string) =>
      syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target,
        streams,
        pageSize: PAGE_SIZE,
        history: ['candidates'],
      });

    it(`first pass and incremental pass, killed and resumed (${TRIALS} trials each)`, async () => {
      const firstPassPages = Math.ceil(expectedStreamRecords(sandbox, 'candidates').length / PAGE_SIZE);
      let killed = 0;
      let partial = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const t = await makeTarget(dialect);
        targets.push(t);
        // A kill point inside the first full pass (the first request is the reach check).
        const killAfter = 2 + Math.floor(((trial + Math.random()) / TRIALS) * firstPassPages);
        if (await syncAndKill(sandbox, t.target, home, killAfter, SYNC_ARGS, POLL_MS)) killed++;
        expect((await resume(t.target)).exitCode).toBe(0);
        const before = expectedStreamRecords(sandbox, 'candidates');
        let h = await readHistory(t.target, 'candidates');
        expect(h.size, `trial ${trial}`).toBe(before.length);
        for (const c of before) {
          expect(
            h.get(String(c.id))?.map((v) => [v.validFrom, v.validTo, v.isCurrent, v.deleted]),
            `trial ${trial} ${c.id}`,
          ).toEqual([[c.updatedAt, null, true, false]]);
        }

        // Ashby changes 30 candidates; the incremental pass reading them (5 pages) is killed midway.
        const changed = before.slice(trial, trial + CHANGED) as Rec[];
        for (const c of changed) sandbox.mutate.updateCandidate(String(c.id), { position: `Trial ${trial}` });
        const after = new Map(expectedStreamRecords(sandbox, 'candidates').map((c) => [String(c.id), c]));
        const incrementalPages = Math.ceil(CHANGED / PAGE_SIZE);
        // One page per trial; the CI legs (one per Node major) start at other pages, so both cover all 5.
        const nodeMajor = Number(process.versions.node.split('.')[0]);
        const killIncremental = 2 + (((trial + nodeMajor) % incrementalPages) + 1);
        if (await syncAndKill(sandbox, t.target, home, killIncremental, SYNC_ARGS, POLL_MS)) killed++;
        h = await readHistory(t.target, 'candidates');
        const doneBeforeResume = changed.filter((c) => (h.get(String(c.id))?.length ?? 0) === 2).length;
        if (doneBeforeResume > 0 && doneBeforeResume < CHANGED) partial++;
        expect((await resume(t.target)).exitCode).toBe(0);
        // Once more: nothing new.
        expect((await resume(t.target)).exitCode).toBe(0);

        h = await readHistory(t.target, 'candidates');
        const changedIds = new Set(changed.map((c) => String(c.id)));
        for (const c of before) {
          const id = String(c.id);
          const now = after.get(id) as Rec;
          const expected = changedIds.has(id)
            ? [
                [c.updatedAt, now.updatedAt, false, c.position],
                [now.updatedAt, null, true, `Trial ${trial}`],
              ]
            : [[c.updatedAt, null, true, c.position]];
          expect(
            h.get(id)?.map((v) => [v.validFrom, v.validTo, v.isCurrent, v.raw.position]),
            `trial ${trial} ${id}`,
          ).toEqual(expected);
        }
        await t.cleanup();
      }
      // Most runs were really interrupted, and some incremental passes had committed part of their pages.
      expect(killed).toBeGreaterThanOrEqual(TRIALS);
      expect(partial).toBeGreaterThan(0);
    }, 300_000);
  });
}
