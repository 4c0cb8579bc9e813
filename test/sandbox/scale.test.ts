import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import { type Rec, World } from '../../src/sandbox/world.js';
import { worldRecords } from '../support/world-oracle.js';
import { call } from './helpers.js';

describe('determinism and scale', () => {
  it('gives the same data for the same seed, different data for another seed', async () => {
    const a = await startSandbox({ seed: 5, scale: 150 });
    const b = await startSandbox({ seed: 5, scale: 150 });
    const c = await startSandbox({ seed: 6, scale: 150 });
    try {
      expect(a.records('candidate.list')).toEqual(b.records('candidate.list'));
      expect(a.records('application.list')).toEqual(b.records('application.list'));
      expect(a.records('candidate.list')).not.toEqual(c.records('candidate.list'));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('starts a million-candidate sandbox and serves a deep page with work bounded by the page size', async () => {
    const sandbox = await startSandbox({ scale: 1_000_000 });
    try {
      const before = sandbox.world.generated;
      const first = await call(sandbox, 'candidate.list', { limit: 100 });
      const perPage = sandbox.world.generated - before;
      expect((first.body.results as unknown[]).length).toBe(100);
      expect(perPage).toBeLessThan(100 * 40);

      // A record near the end is reachable by id in O(1).
      const last = sandbox.world.id('candidate', 999_999);
      const g0 = sandbox.world.generated;
      const info = await call(sandbox, 'candidate.info', { id: last });
      expect((info.body.results as { id: string }).id).toBe(last);
      expect(sandbox.world.generated - g0).toBeLessThan(50);

      // A cursor for a deep position costs the same as the first page.
      const deep = sandbox.cursorAt('candidate.list', 990_000);
      const g1 = sandbox.world.generated;
      const page = await call(sandbox, 'candidate.list', { cursor: deep });
      expect((page.body.results as unknown[]).length).toBe(100);
      expect(sandbox.world.generated - g1).toBeLessThan(100 * 40);
    } finally {
      await sandbox.close();
    }
  });

  it.each([1, 40, 5000])(
    'has, at scale %i, the records every include… filter needs to cut something',
    (scale) => {
      const w = new World(3, scale);
      const some = (kind: Parameters<typeof worldRecords>[1], test: (r: Rec) => boolean) =>
        worldRecords(w, kind).some(test);
      const stages = (p: Rec) => ((p.trainingPath as Rec).trainingStages as Rec[]) ?? [];
      expect({
        archivedDepartment: some('department', (d) => d.isArchived === true),
        archivedOffice: some('location', (l) => l.type === 'Location' && l.isArchived === true),
        region: some('location', (l) => l.type === 'LocationHierarchy'),
        officeInRegion: some(
          'location',
          (l) => l.type === 'Location' && typeof l.parentLocationId === 'string',
        ),
        archivedPlan: some('interviewPlan', (p) => p.isArchived === true),
        archivedInterview: some('interview', (i) => i.isArchived === true),
        sharedInterview: some('interview', (i) => i.jobId === undefined),
        jobInterview: some('interview', (i) => typeof i.jobId === 'string'),
        archivedPool: some('interviewerPool', (p) => p.isArchived === true),
        archivedTrainingStage: some('interviewerPool', (p) => stages(p).some((s) => s.isArchived === true)),
        deactivatedUser: some('user', (u) => u.isEnabled === false),
        inactiveTemplate: some('jobTemplate', (t) => t.status === 'Inactive'),
        archivedReason: some('archiveReason', (r) => r.isArchived === true),
        archivedSource: some('source', (r) => r.isArchived === true),
        archivedTag: some('candidateTag', (r) => r.isArchived === true),
        disabledLink: some('sourceTrackingLink', (r) => r.enabled === false),
      }).toEqual({
        archivedDepartment: true,
        archivedOffice: true,
        region: true,
        officeInRegion: true,
        archivedPlan: true,
        archivedInterview: true,
        sharedInterview: true,
        jobInterview: true,
        archivedPool: true,
        archivedTrainingStage: true,
        deactivatedUser: true,
        inactiveTemplate: true,
        archivedReason: true,
        archivedSource: true,
        archivedTag: true,
        disabledLink: true,
      });
    },
  );
});
