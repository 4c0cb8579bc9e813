import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, type EndpointSpec } from '../../src/ashby/catalogue.js';
import { IMPLEMENTED_ENDPOINTS, type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { call, code, ids, message, walk } from './helpers.js';

type R = Record<string, unknown> & { id: string };

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 200, seed: 11 });
});
afterAll(() => sandbox?.close());

function first(endpoint: string, body: Record<string, unknown> = {}): R {
  const rec = sandbox.records(endpoint, { body })[0] as R | undefined;
  if (!rec) throw new Error(`no record from ${endpoint}`);
  return rec;
}

describe('every list endpoint of the catalogue', () => {
  it('is served, except the partner-implemented assessment.list', () => {
    const lists = (ENDPOINTS as readonly EndpointSpec[])
      .filter((e) => e.access === 'read' && /\.list\w*$/.test(e.name) && e.implementedBy !== 'partner')
      .map((e) => e.name);
    expect(lists.filter((e) => !IMPLEMENTED_ENDPOINTS.includes(e))).toEqual([]);
  });

  it('brand.list, closeReason.list and communicationTemplate.list answer their 2026 shapes', async () => {
    const brands = await call(sandbox, 'brand.list', {});
    expect(brands.body.success).toBe(true);
    for (const b of brands.body.results as R[]) {
      expect(typeof b.name).toBe('string');
      expect(typeof b.hostedJobsPageSlug).toBe('string');
    }
    const open = (await call(sandbox, 'closeReason.list', {})).body.results as R[];
    const all = (await call(sandbox, 'closeReason.list', { includeArchived: true })).body.results as R[];
    expect(open.every((r) => r.isArchived === false)).toBe(true);
    expect(all.length).toBeGreaterThan(open.length);
    const templates = (await call(sandbox, 'communicationTemplate.list', {})).body.results as R[];
    expect(templates.length).toBeGreaterThan(0);
    for (const t of templates) expect(Array.isArray(t.intendedTypes)).toBe(true);
  });

  it('candidate.listClientInfo lists the records of that candidate only, and needs candidateId', async () => {
    const candidate = first('candidate.list');
    const infos = (await call(sandbox, 'candidate.listClientInfo', { candidateId: candidate.id })).body
      .results as R[];
    expect(infos.length).toBe((candidate.applicationIds as string[]).length);
    for (const i of infos) expect(i.candidateId).toBe(candidate.id);
    const missing = await call(sandbox, 'candidate.listClientInfo', {});
    expect(code(missing)).toBe('invalid_input');
    expect(message(missing)).toContain('candidateId');
  });

  it('candidate.listProjects follows candidate.addProject, which also bumps the change log', async () => {
    const candidate = first('candidate.list');
    const project = first('project.list');
    const before = ids([(await call(sandbox, 'candidate.listProjects', { candidateId: candidate.id })).body]);
    const seq = sandbox.world.seq;
    const added = await call(sandbox, 'candidate.addProject', {
      candidateId: candidate.id,
      projectId: project.id,
    });
    expect(added.body.success).toBe(true);
    expect(sandbox.world.seq).toBe(seq + 1);
    const after = ids([(await call(sandbox, 'candidate.listProjects', { candidateId: candidate.id })).body]);
    expect(after).toEqual(before.includes(project.id) ? before : [...before, project.id]);
    const bad = await call(sandbox, 'candidate.addProject', { candidateId: candidate.id, projectId: 'x' });
    expect(message(bad)).toContain('projectId');
  });

  it('application.listCriteriaEvaluations pages evaluations of one application', async () => {
    const apps = sandbox.records('application.list') as R[];
    let seen = 0;
    for (const app of apps.slice(0, 6)) {
      const pages = await walk(sandbox, 'application.listCriteriaEvaluations', { applicationId: app.id });
      for (const r of pages.flatMap((p) => p.results as R[])) {
        expect(['Pending', 'Completed', 'Failed', 'Skipped']).toContain(r.status);
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('feedbackSubmission.list answers the empty list envelope (record shape undocumented)', async () => {
    const a = await call(sandbox, 'feedbackSubmission.list', {});
    expect(a.body).toMatchObject({ success: true, results: [], moreDataAvailable: false });
  });

  it('hiringTeamRole.list gives titles by default and {id, title} with namesOnly:false', async () => {
    const names = (await call(sandbox, 'hiringTeamRole.list', {})).body.results as unknown[];
    const objects = (await call(sandbox, 'hiringTeamRole.list', { namesOnly: false })).body.results as R[];
    expect(names.every((n) => typeof n === 'string')).toBe(true);
    expect(objects.map((o) => o.title)).toEqual(names);
    expect(objects.every((o) => typeof o.id === 'string')).toBe(true);
  });

  it('surveySubmission.list needs a surveyType and answers only submissions of that type', async () => {
    const types = ['CandidateDataConsent', 'CandidateExperience', 'Diversity', 'EEOC', 'Questionnaire'];
    const perType = new Map<string, R[]>();
    for (const surveyType of types) {
      const pages = await walk(sandbox, 'surveySubmission.list', { surveyType, limit: 7 });
      perType.set(
        surveyType,
        pages.flatMap((p) => p.results as R[]),
      );
    }
    for (const [surveyType, records] of perType) {
      for (const r of records) expect(r.surveyType, r.id).toBe(surveyType);
    }
    // Each submission comes back under exactly one type, and more than one type has submissions.
    const all = [...perType.values()].flat().map((r) => r.id);
    expect(new Set(all).size).toBe(all.length);
    expect([...perType.values()].filter((r) => r.length > 0).length).toBeGreaterThan(1);
    const missing = await call(sandbox, 'surveySubmission.list', {});
    expect(code(missing)).toBe('invalid_input');
    expect(message(missing)).toContain('surveyType');
    const wrong = await call(sandbox, 'surveySubmission.list', { surveyType: 'Feedback' });
    expect(message(wrong)).toContain('surveyType');
  });

  it("interviewEvent.list answers the schedule's events, with the interview only when expanded", async () => {
    const schedules = sandbox.records('interviewSchedule.list') as R[];
    let seen = 0;
    for (const schedule of schedules.slice(0, 5)) {
      const embedded = schedule.interviewEvents as R[];
      const plain = await call(sandbox, 'interviewEvent.list', { interviewScheduleId: schedule.id });
      expect(plain.body.success).toBe(true);
      const events = plain.body.results as R[];
      expect(events.map((e) => e.id)).toEqual(embedded.map((e) => e.id));
      for (const e of events) {
        expect(e.interviewScheduleId).toBe(schedule.id);
        expect(e).not.toHaveProperty('interview');
      }
      const expanded = await call(sandbox, 'interviewEvent.list', {
        interviewScheduleId: schedule.id,
        expand: ['interview'],
      });
      expect(expanded.body.results).toEqual(embedded);
      seen += events.length;
    }
    expect(seen).toBeGreaterThan(0);
    const missing = await call(sandbox, 'interviewEvent.list', {});
    expect(message(missing)).toContain('interviewScheduleId');
  });
});

describe('more writes', () => {
  it('application.changeSource sets and unsets (null) the source', async () => {
    const app = first('application.list');
    const source = first('source.list');
    const set = await call(sandbox, 'application.changeSource', {
      applicationId: app.id,
      sourceId: source.id,
    });
    expect((set.body.results as R).source).toMatchObject({ id: source.id });
    const unset = await call(sandbox, 'application.changeSource', { applicationId: app.id, sourceId: null });
    expect(unset.body.results as R).not.toHaveProperty('source');
    const missing = await call(sandbox, 'application.changeSource', { applicationId: app.id });
    expect(message(missing)).toContain('sourceId');
  });

  it('application.changeStage keeps the history for application.info and listHistory, never in application.list (its expand has only openings)', async () => {
    const app = first('application.list', { status: 'Active' });
    const stage = app.currentInterviewStage as R & { interviewPlanId: string };
    const stages = (await call(sandbox, 'interviewStage.list', { interviewPlanId: stage.interviewPlanId }))
      .body.results as R[];
    const target = stages.find((s) => s.id !== stage.id && s.type !== 'Archived') as R;
    const moved = await call(sandbox, 'application.changeStage', {
      applicationId: app.id,
      interviewStageId: target.id,
    });
    expect(moved.body.success).toBe(true);
    const listed = (await walk(sandbox, 'application.list')).flatMap((p) => p.results as R[]);
    expect(listed.find((a) => a.id === app.id)?.currentInterviewStage).toMatchObject({ id: target.id });
    expect(listed.filter((a) => 'applicationHistory' in a).map((a) => a.id)).toEqual([]);
    const history = (await call(sandbox, 'application.listHistory', { applicationId: app.id })).body
      .results as R[];
    expect(history.at(-1)).toMatchObject({ stageId: target.id, title: target.title });
    const info = (await call(sandbox, 'application.info', { applicationId: app.id })).body.results as R;
    expect((info.applicationHistory as R[]).at(-1)).toMatchObject({ stageId: target.id });
  });

  it('application.transfer moves an application to a stage of another job and checks the stage', async () => {
    const app = first('application.list', { status: 'Active' });
    const job = (sandbox.records('job.list', { body: { status: ['Open'] } }) as R[]).find(
      (j) => j.id !== (app.job as R).id,
    ) as R;
    const planId = String(job.defaultInterviewPlanId);
    const stage = (await call(sandbox, 'interviewStage.list', { interviewPlanId: planId })).body
      .results as R[];
    const target = stage[2] as R;
    const moved = await call(sandbox, 'application.transfer', {
      applicationId: app.id,
      jobId: job.id,
      interviewPlanId: planId,
      interviewStageId: target.id,
    });
    expect(moved.body.success).toBe(true);
    expect((moved.body.results as R).job).toMatchObject({ id: job.id });
    expect((moved.body.results as R).currentInterviewStage).toMatchObject({ id: target.id });
    const wrong = await call(sandbox, 'application.transfer', {
      applicationId: app.id,
      jobId: job.id,
      interviewPlanId: planId,
      interviewStageId: app.id,
    });
    expect(code(wrong)).toBe('interview_stage_not_found');
  });

  it('candidateTag.create returns the existing tag for a known title', async () => {
    const a = await call(sandbox, 'candidateTag.create', { title: 'Brand new 🏷️' });
    const b = await call(sandbox, 'candidateTag.create', { title: 'Brand new 🏷️' });
    expect((b.body.results as R).id).toBe((a.body.results as R).id);
    expect(code(await call(sandbox, 'candidateTag.create', {}))).toBe('invalid_input');
  });

  it('department.create and location.create validate and appear in their lists', async () => {
    const parent = first('department.list');
    const dep = await call(sandbox, 'department.create', { name: 'Platform', parentId: parent.id });
    expect(dep.body.results).toMatchObject({ name: 'Platform', parentId: parent.id, isArchived: false });
    expect(ids(await walk(sandbox, 'department.list'))).toContain((dep.body.results as R).id);
    const badType = await call(sandbox, 'location.create', { name: 'Mars', type: 'Planet' });
    expect(message(badType)).toContain('"type"');
    const loc = await call(sandbox, 'location.create', {
      name: 'Zürich',
      type: 'Location',
      address: { postalAddress: { addressCountry: 'CH', addressLocality: 'Zürich' } },
    });
    expect(ids(await walk(sandbox, 'location.list'))).toContain((loc.body.results as R).id);
  });

  it('opening.update/addJob/removeJob/setOpeningState/setArchived, and expand:["openings"]', async () => {
    const job = (sandbox.records('job.list', { body: { status: ['Open'] } }) as R[]).at(-1) as R;
    const created = await call(sandbox, 'opening.create', { identifier: 'NEW-1' });
    const openingId = (created.body.results as R).id;
    const updated = await call(sandbox, 'opening.update', { openingId, description: 'Backfill for "Q"' });
    expect((updated.body.results as R).latestVersion).toMatchObject({ description: 'Backfill for "Q"' });
    await call(sandbox, 'opening.addJob', { openingId, jobId: job.id });

    const info = await call(sandbox, 'job.info', { id: job.id, expand: ['openings'] });
    expect(((info.body.results as R).openings as R[]).map((o) => o.id)).toContain(openingId);
    const listed = (await walk(sandbox, 'job.list', { status: ['Open'], expand: ['openings'] }))
      .flatMap((p) => p.results as R[])
      .find((j) => j.id === job.id) as R;
    expect((listed.openings as R[]).map((o) => o.id)).toContain(openingId);
    const app = (sandbox.records('application.list', { body: { jobId: job.id } }) as R[])[0];
    if (app) {
      const apps = await call(sandbox, 'application.list', { jobId: job.id, expand: ['openings'] });
      const withOpenings = (apps.body.results as R[]).find((a) => a.id === app.id) as R;
      expect((withOpenings.openings as R[]).map((o) => o.id)).toContain(openingId);
    }
    // Without expand, no openings key.
    expect((await call(sandbox, 'job.info', { id: job.id })).body.results).not.toHaveProperty('openings');

    await call(sandbox, 'opening.removeJob', { openingId, jobId: job.id });
    const after = await call(sandbox, 'job.info', { id: job.id, expand: ['openings'] });
    expect(((after.body.results as R).openings as R[]).map((o) => o.id)).not.toContain(openingId);
    const notOn = await call(sandbox, 'opening.removeJob', { openingId, jobId: job.id });
    expect(message(notOn)).toContain('jobId');

    const closeReason = first('closeReason.list');
    const closed = await call(sandbox, 'opening.setOpeningState', {
      openingId,
      openingState: 'Closed',
      closeReasonId: closeReason.id,
    });
    expect(closed.body.results).toMatchObject({ openingState: 'Closed' });
    const badState = await call(sandbox, 'opening.setOpeningState', { openingId, openingState: 'Gone' });
    expect(message(badState)).toContain('openingState');
    const archived = await call(sandbox, 'opening.setArchived', { openingId, archive: true });
    expect(archived.body.results).toMatchObject({ isArchived: true });
    expect(message(await call(sandbox, 'opening.setArchived', { openingId }))).toContain('archive');
  });

  it('interviewSchedule.update adds and moves events; cancel sets the status', async () => {
    const app = first('application.list', { status: 'Active' });
    const user = first('user.list');
    const event = {
      startTime: '2030-01-01T10:00:00Z',
      endTime: '2030-01-01T11:00:00Z',
      interviewers: [{ email: user.email }],
    };
    const created = await call(sandbox, 'interviewSchedule.create', {
      applicationId: app.id,
      interviewEvents: [event],
    });
    const schedule = created.body.results as R;
    // The interviewer named by email, as an event lists its interviewers (2026 spec), and who scheduled it.
    expect((schedule.interviewEvents as R[])[0]?.interviewers).toEqual([
      expect.objectContaining({
        id: user.id,
        email: user.email,
        trainingRole: null,
        interviewerPool: null,
        isFeedbackRequired: true,
      }),
    ]);
    expect(schedule.scheduledBy).toMatchObject({ id: expect.any(String), firstName: expect.any(String) });
    const eventId = (schedule.interviewEvents as R[])[0]?.id;
    const moved = await call(sandbox, 'interviewSchedule.update', {
      interviewScheduleId: schedule.id,
      interviewEvent: { ...event, interviewEventId: eventId, startTime: '2030-01-01T09:00:00Z' },
    });
    const events = (moved.body.results as R).interviewEvents as R[];
    expect(events).toHaveLength(1);
    expect(events[0]?.startTime).toBe('2030-01-01T09:00:00.000Z');
    const bad = await call(sandbox, 'interviewSchedule.update', {
      interviewScheduleId: schedule.id,
      interviewEvent: { ...event, endTime: 'soon' },
    });
    expect(message(bad)).toContain('interviewEvent.endTime');
    const cancelled = await call(sandbox, 'interviewSchedule.cancel', { id: schedule.id });
    expect(cancelled.body.results).toMatchObject({ status: 'Cancelled' });
  });
});

describe('incremental_sync_too_large', () => {
  it('answers when the changes since the token exceed maxIncrementalPages pages', async () => {
    const small = await startSandbox({ scale: 50, seed: 2, maxIncrementalPages: 2 });
    try {
      const token = (await walk(small, 'candidate.list')).at(-1)?.syncToken;
      const candidates = small.records('candidate.list') as R[];
      for (const c of candidates.slice(0, 5)) small.mutate.updateCandidate(c.id, { position: 'X' });
      const fits = await call(small, 'candidate.list', { syncToken: token, limit: 3 });
      expect(fits.body.success).toBe(true);
      for (const c of candidates.slice(5, 7)) small.mutate.updateCandidate(c.id, { position: 'Y' });
      const tooMany = await call(small, 'candidate.list', { syncToken: token, limit: 3 });
      expect(code(tooMany)).toBe('incremental_sync_too_large');
      // A full walk still works, and so does the same change set read with larger pages.
      expect((await call(small, 'candidate.list', { syncToken: token, limit: 100 })).body.success).toBe(true);
    } finally {
      await small.close();
    }
  });
});
