/**
 * History mode on SQLite and PostgreSQL: the versions of `<stream>_history` after the sandbox's world was
 * changed through its API between syncs (a stage changed twice, an archive, a deletion, a candidate renamed
 * twice). The expected versions are written out from the world and from the API's own answers (the
 * `updatedAt` each change returned), never read back through the code under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { parseHistoryStreams, type SyncSummary, syncToTarget } from '../../src/sync/index.js';
import { expectedStreamRecords, worldRecords } from '../support/world-oracle.js';
import { makeTarget, POSTGRES_URL, type TestTarget } from '../sync/helpers.js';
import { countVersions, query, readHistory, tableExists } from './support.js';

type Rec = Record<string, unknown>;
const DIALECTS: Array<'sqlite' | 'postgres'> = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const streams = selectStreams({ streams: ['candidates', 'applications'] });
const KEY = 'sandbox-full';

async function api(sandbox: Sandbox, endpoint: string, body: Rec): Promise<Rec> {
  const res = await fetch(`${sandbox.url}/${endpoint}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  const out = (await res.json()) as { success: boolean; results: Rec };
  if (!out.success) throw new Error(`${endpoint} failed: ${JSON.stringify(out)}`);
  return out.results;
}

const stageOf = (raw: Rec) => (raw.currentInterviewStage as Rec | undefined)?.id;

for (const dialect of DIALECTS) {
  describe(`history mode (${dialect})`, () => {
    let sandbox: Sandbox;
    const targets: TestTarget[] = [];
    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 30, seed: 15 });
    });
    afterAll(async () => {
      await sandbox?.close();
      for (const t of targets) await t.cleanup();
    });

    const sync = (
      target: string,
      extra: { history?: string[]; fullRefresh?: boolean } = {},
    ): Promise<SyncSummary> =>
      syncToTarget({ apiKey: KEY, baseUrl: sandbox.url, target, streams, pageSize: 7, ...extra });

    it('keeps one version per change: two stage changes, an archive, a deletion, two renames', async () => {
      const t = await makeTarget(dialect);
      targets.push(t);
      const history = ['applications', 'candidates'];
      expect((await sync(t.target, { history })).exitCode).toBe(0);

      // After the first sync: one current version per record, starting at the record's updatedAt.
      const apps = expectedStreamRecords(sandbox, 'applications');
      const candidates = expectedStreamRecords(sandbox, 'candidates');
      expect(apps.length).toBeGreaterThan(10);
      let h = await readHistory(t.target, 'applications');
      expect(h.size).toBe(apps.length);
      for (const app of apps) {
        const versions = h.get(String(app.id)) ?? [];
        expect(versions).toHaveLength(1);
        expect(versions[0]).toMatchObject({
          validFrom: app.updatedAt,
          validTo: null,
          isCurrent: true,
          deleted: false,
          raw: app,
        });
        // The typed columns are those of the applications table.
        expect(versions[0]?.columns.status).toBe(app.status);
        expect(versions[0]?.columns.id).toBe(app.id);
      }
      expect(countVersions(await readHistory(t.target, 'candidates'))).toBe(candidates.length);

      // An active application whose plan has two other active stages and an archived one.
      const target = apps.find((a) => {
        if (a.status !== 'Active') return false;
        const plan = String((a.currentInterviewStage as Rec).interviewPlanId);
        const stages = sandbox.world.stagesOfPlan(plan);
        return stages.filter((s) => s.type !== 'Archived' && s.id !== stageOf(a)).length >= 2;
      }) as Rec;
      const plan = String((target.currentInterviewStage as Rec).interviewPlanId);
      const stages = sandbox.world.stagesOfPlan(plan);
      const [first, second] = stages.filter((s) => s.type !== 'Archived' && s.id !== stageOf(target));
      const archived = stages.find((s) => s.type === 'Archived') as Rec;
      const reason = worldRecords(sandbox.world, 'archiveReason')[0] as Rec;
      const gone = apps.find((a) => a.id !== target.id) as Rec;
      const renamed = candidates.find(
        (c) => c.id !== (target.candidate as Rec).id && c.id !== (gone.candidate as Rec).id,
      ) as Rec;

      const appId = String(target.id);
      const starts = [String(target.updatedAt)];
      const stagesSeen = [stageOf(target)];
      const names = [String(renamed.name)];
      const renameStarts = [String(renamed.updatedAt)];
      for (const [stage, extra] of [
        [first, {}],
        [second, {}],
        [archived, { archiveReasonId: reason.id }],
      ] as Array<[Rec, Rec]>) {
        const after = await api(sandbox, 'application.changeStage', {
          applicationId: appId,
          interviewStageId: stage.id,
          ...extra,
        });
        starts.push(String(after.updatedAt));
        stagesSeen.push(stage.id);
        if (stage !== archived) {
          const name = `Renamed ${names.length}`;
          const c = await api(sandbox, 'candidate.update', { candidateId: renamed.id, name });
          names.push(name);
          renameStarts.push(String(c.updatedAt));
        }
        expect((await sync(t.target, { history })).exitCode).toBe(0);
      }
      sandbox.mutate.deleteCandidate(String(gone.id));
      // Deletions show in a full pass.
      const fullPass = { start: Date.now(), end: 0 };
      expect((await sync(t.target, { history, fullRefresh: true })).exitCode).toBe(0);
      fullPass.end = Date.now();
      // A run with nothing new adds nothing.
      expect((await sync(t.target, { history })).exitCode).toBe(0);

      h = await readHistory(t.target, 'applications');
      const versions = h.get(appId) ?? [];
      expect(versions.map((v) => v.validFrom)).toEqual(starts);
      expect(versions.map((v) => v.validTo)).toEqual([...starts.slice(1), null]);
      expect(versions.map((v) => stageOf(v.raw))).toEqual(stagesSeen);
      expect(versions.map((v) => v.isCurrent)).toEqual([false, false, false, true]);
      expect(versions.map((v) => v.deleted)).toEqual([false, false, false, false]);
      expect(versions[3]?.raw.status).toBe('Archived');
      expect(versions[3]?.columns.status).toBe('Archived');
      expect(new Set(versions.map((v) => v.hash)).size).toBe(4);

      const deleted = h.get(String(gone.id)) ?? [];
      expect(deleted).toHaveLength(1);
      expect(deleted[0]).toMatchObject({ isCurrent: false, deleted: true, validFrom: gone.updatedAt });
      const [row] = await query(
        t.target,
        'SELECT "_ashpipe_deleted_at" AS d FROM applications WHERE id = $1',
        [gone.id],
      );
      expect(deleted[0]?.validTo).toBe(
        new Date(String(row?.d instanceof Date ? row.d.toISOString() : row?.d)).toISOString(),
      );

      // Every other application: still exactly its first version.
      for (const app of apps) {
        if (app.id === appId || app.id === gone.id) continue;
        const vs = h.get(String(app.id)) ?? [];
        if ((app.candidate as Rec).id !== renamed.id) {
          expect(vs.length, String(app.id)).toBe(1);
          continue;
        }
        // An application embeds its candidate's name without its own updatedAt moving: the full pass sees
        // the new name, and the version starts when it was observed (during that pass).
        expect(vs.map((v) => (v.raw.candidate as Rec).name)).toEqual([names[0], names[2]]);
        expect(vs[0]?.validFrom).toBe(app.updatedAt);
        const observed = Date.parse(vs[1]?.validFrom ?? '');
        expect(observed).toBeGreaterThanOrEqual(fullPass.start);
        expect(observed).toBeLessThanOrEqual(fullPass.end);
        expect(vs[0]?.validTo).toBe(vs[1]?.validFrom);
      }
      const ofRenamed = apps.filter((a) => (a.candidate as Rec).id === renamed.id).length;
      expect(countVersions(h)).toBe(apps.length + 3 + ofRenamed);

      const ch = await readHistory(t.target, 'candidates');
      const renames = ch.get(String(renamed.id)) ?? [];
      expect(renames.map((v) => v.raw.name)).toEqual(names);
      expect(renames.map((v) => v.validFrom)).toEqual(renameStarts);
      expect(renames.map((v) => v.isCurrent)).toEqual([false, false, true]);
      // The application's candidate was not touched: one version.
      expect(ch.get(String((target.candidate as Rec).id))).toHaveLength(1);
    }, 120_000);

    it('turning history on seeds one version per row; turning it off stops versions and keeps the table', async () => {
      const t = await makeTarget(dialect);
      targets.push(t);
      expect((await sync(t.target)).exitCode).toBe(0);
      expect(await tableExists(t.target, 'candidates_history')).toBe(false);
      const before = expectedStreamRecords(sandbox, 'candidates');
      // Changed before history is on: the seed holds the record as it is stored, from its updatedAt.
      const changed = before[2] as Rec;
      const c1 = await api(sandbox, 'candidate.update', { candidateId: changed.id, name: 'Before History' });

      expect((await sync(t.target, { history: ['candidates'] })).exitCode).toBe(0);
      // The seed is the table as it was stored; the change the same run read is the next version.
      let h = await readHistory(t.target, 'candidates');
      expect(countVersions(h)).toBe(before.length + 1);
      const seeded = h.get(String(changed.id)) ?? [];
      expect(seeded.map((v) => [v.raw.name, v.validFrom, v.validTo])).toEqual([
        [changed.name, changed.updatedAt, c1.updatedAt],
        ['Before History', c1.updatedAt, null],
      ]);
      const other = before[3] as Rec;
      expect(h.get(String(other.id))?.[0]).toMatchObject({
        validFrom: other.updatedAt,
        raw: other,
        isCurrent: true,
      });

      // Off: a change is synced into the table but not the history.
      const c2 = await api(sandbox, 'candidate.update', { candidateId: changed.id, name: 'While Off' });
      expect((await sync(t.target)).exitCode).toBe(0);
      expect(await tableExists(t.target, 'candidates_history')).toBe(true);
      h = await readHistory(t.target, 'candidates');
      expect(countVersions(h)).toBe(before.length + 1);

      // On again: what changed meanwhile becomes a version (the record's updatedAt is its start).
      expect((await sync(t.target, { history: ['candidates'] })).exitCode).toBe(0);
      h = await readHistory(t.target, 'candidates');
      expect(h.get(String(changed.id))?.map((v) => [v.raw.name, v.validFrom, v.validTo])).toEqual([
        [changed.name, changed.updatedAt, c1.updatedAt],
        ['Before History', c1.updatedAt, c2.updatedAt],
        ['While Off', c2.updatedAt, null],
      ]);
      expect(countVersions(h)).toBe(before.length + 2);
    }, 60_000);
  });
}

describe('--history values', () => {
  it('reads lists and all; an unknown name is an error listing the valid ones', () => {
    expect(parseHistoryStreams('applications, candidates,applications')).toEqual([
      'applications',
      'candidates',
    ]);
    expect(parseHistoryStreams('all')).toContain('offers');
    expect(parseHistoryStreams('all')).toContain('jobs');
    expect(() => parseHistoryStreams('applications,aplications')).toThrow(
      /unknown stream for history: aplications \(did you mean applications for aplications\?\); valid: all, .*candidates/,
    );
  });
});
