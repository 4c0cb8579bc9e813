/**
 * A first sync into SQLite becomes a bulk load past 5000 rows, whose pages are committed forty at a time
 * (each with the stream's state). A real `ashpipe sync` killed with SIGKILL inside such a batch loses the pages
 * of the open batch, never more and never half of one: the next run resumes after the last page committed
 * and the table ends exactly as the sandbox's world says.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { customFieldEntries } from '../../src/sinks/records.js';
import { selectStreams } from '../../src/streams/index.js';
import { readState, syncToTarget } from '../../src/sync/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { syncAndKill, totalRequests } from './crash-matrix.js';
import { expectedRecords, liveRecords, withSink } from './helpers.js';

/**
 * Candidates in the sandbox: 95 pages of 100, the last 45 of them written as a bulk load (a batch of pages
 * 51–90, then one of the last five).
 */
const CANDIDATES = 9_500;
const streams = selectStreams({ streams: ['candidates'] });
const candidates = streams[0];

describe('SQLite: a first sync killed inside a batch of bulk load pages', () => {
  let sandbox: Sandbox;
  let cleanRequests = 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-crash-bulk-'));

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: CANDIDATES, seed: 5 });
    // How many requests a whole run takes, so that the kill points below fall inside the bulk load.
    const probe = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: `sqlite:${path.join(dir, 'probe.db')}`,
      streams,
    });
    expect(probe.exitCode).toBe(0);
    cleanRequests = probe.totals.requests;
  }, 300_000);
  afterAll(async () => {
    await sandbox?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resumes after the last batch committed and stores exactly the world, typed columns and values included', async () => {
    if (!candidates) throw new Error('no candidates stream');
    expect(cleanRequests).toBeGreaterThanOrEqual(CANDIDATES / 100);
    const expected = expectedRecords(sandbox, candidates);
    expect(expected).toHaveLength(CANDIDATES);
    let mostLost = 0;
    // Kill points inside the bulk load (past page 50), before and after a batch boundary: one inside the
    // first batch (a point per Node major, so the CI legs try two of them) and one after the boundary.
    const inside = [cleanRequests - 12, cleanRequests - 18, cleanRequests - 24][
      Number(process.versions.node.split('.')[0]) % 3
    ] as number;
    for (const [trial, killAfter] of [inside, cleanRequests - 3].entries()) {
      const db = path.join(dir, `bulk-${trial}.db`);
      const target = `sqlite:${db}`;
      const killed = await syncAndKill(sandbox, target, dir, killAfter, ['--streams', 'candidates']);
      expect(killed, `trial ${trial}`).toBe(true);
      const answered = totalRequests(sandbox);

      // What the killed run left: whole pages only, and the state of the last of them.
      const state = await withSink(target, async (sink) => readState(await sink.getState('candidates')));
      const stored = await withSink(target, async (sink) => sink.countRows('candidates'));
      expect(stored.live, `trial ${trial}`).toBe((state?.pagesCommitted ?? 0) * 100);
      mostLost = Math.max(mostLost, answered - (state?.pagesCommitted ?? 0));

      const resumed = await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target, streams });
      expect(resumed.exitCode).toBe(0);
      expect(resumed.streams[0]?.reason).toMatch(/resumed/);
      expect(resumed.totals.requests).toBeLessThan(cleanRequests);

      await withSink(target, async (sink) => {
        expect(await liveRecords(sink, 'candidates')).toEqual(expected);
        const values = await sink.readRows('custom_field_values');
        const wanted = expected.flatMap((r) =>
          customFieldEntries(r).map((e) => ({
            object_type: 'Candidate',
            object_id: r.id,
            field_id: e.fieldId,
            title: e.title,
            value: e.value,
          })),
        );
        const key = (v: Record<string, unknown>) => `${String(v.object_id)} ${String(v.field_id)}`;
        expect(values.map((v) => ({ ...v })).sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
          wanted.sort((a, b) => key(a).localeCompare(key(b))),
        );
      });
      // The bulk load ended: the typed columns are back, filled, and the indexes are built.
      const raw = openSqlite(db);
      try {
        const named = raw.prepare('SELECT count(*) AS n FROM candidates WHERE name IS NOT NULL').get() as {
          n: number;
        };
        expect(named.n).toBe(expected.filter((r) => typeof r.name === 'string').length);
        // Each candidate's values, as the sandbox has them, are there once.
        const valued = raw
          .prepare(
            "SELECT count(DISTINCT object_id) AS n FROM custom_field_values WHERE object_type = 'Candidate'",
          )
          .get() as { n: number };
        expect(valued.n).toBe(
          expected.filter((r) => Array.isArray(r.customFields) && r.customFields.length > 0).length,
        );
        expect(raw.prepare('SELECT count(*) AS n FROM _ashpipe_bulk_loads').get()).toEqual({ n: 0 });
      } finally {
        raw.close();
      }
    }
    // Some kill fell inside an open batch: more pages lost than the one read ahead of the last commit.
    expect(mostLost).toBeGreaterThan(2);
  }, 600_000);
});
