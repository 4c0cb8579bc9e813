import { describe, expect, it } from 'vitest';
import { ENDPOINTS, type EndpointSpec } from '../../src/ashby/catalogue.js';
import {
  findStream,
  NOT_SYNCED,
  STREAMS,
  selectStreams,
  UnknownStreamError,
} from '../../src/streams/index.js';

const REQUIRED =
  `candidates applications application_feedback application_history jobs job_postings job_boards openings
  offers interview_schedules interviews interview_events interview_plans interview_stages interview_stage_groups
  interviewer_pools feedback_form_definitions survey_form_definitions survey_requests survey_submissions users
  departments locations sources source_tracking_links archive_reasons candidate_tags custom_fields projects
  candidate_notes approvals hiring_team_roles job_templates close_reasons`.split(/\s+/);

describe('stream registry', () => {
  it('has a stream for every stream the project promises', () => {
    for (const name of REQUIRED) expect(findStream(name), name).toBeDefined();
  });

  it('reads every list endpoint of the catalogue, or says why not', () => {
    const lists = (ENDPOINTS as readonly EndpointSpec[])
      .filter((e) => e.access === 'read' && /\.list/.test(e.name))
      .map((e) => e.name);
    const read = new Set(STREAMS.map((s) => s.endpoint));
    const missing = lists.filter((e) => !read.has(e) && !(e in NOT_SYNCED));
    expect(missing).toEqual([]);
  });

  it('names tables in snake_case, once each, keyed by fields, with the permission from the catalogue', () => {
    const names = STREAMS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of STREAMS) {
      expect(s.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(s.primaryKey.length).toBeGreaterThan(0);
      expect(s.permission).toMatch(/^[A-Z][A-Za-z ]+: Read$/);
    }
    expect(findStream('offers')?.permission).toBe('Offers: Read');
    expect(findStream('candidates')?.scope).toBe('candidatesRead');
  });

  it('lists parents before their children and reads child streams in full (changed-parents ones by change)', () => {
    const order = STREAMS.map((s) => s.name);
    for (const s of STREAMS) {
      if (s.parent?.kind !== 'stream') continue;
      expect(order.indexOf(s.parent.stream), s.name).toBeLessThan(order.indexOf(s.name));
      expect(s.incremental, s.name).toBe(s.changedParents !== undefined);
    }
    expect(STREAMS.filter((s) => s.changedParents).map((s) => s.name)).toEqual(['application_stage_history']);
    for (const s of STREAMS) {
      for (const dep of s.confidentialAfter ?? []) {
        expect(order.indexOf(dep), `${s.name} after ${dep}`).toBeLessThan(order.indexOf(s.name));
      }
    }
    expect(findStream('candidates')?.incremental).toBe(true);
    expect(findStream('departments')?.incremental).toBe(false);
  });

  it('asks for archived records, deactivated users and Draft jobs unless told not to', () => {
    const body = (name: string, includeArchived = true) => findStream(name)?.body?.({ includeArchived });
    expect(body('jobs')).toEqual({
      status: ['Draft', 'Open', 'Closed', 'Archived'],
      includeUnpublishedJobPostingsIds: true,
    });
    expect(body('jobs', false)).toEqual({
      status: ['Draft', 'Open', 'Closed'],
      includeUnpublishedJobPostingsIds: true,
    });
    expect(body('interviewer_pools')).toEqual({
      includeArchivedPools: true,
      includeArchivedTrainingStages: true,
    });
    expect(body('survey_requests')).toEqual({ surveyType: 'CandidateExperience' });
    expect(body('users')).toEqual({ includeDeactivated: true });
    expect(body('departments')).toEqual({ includeArchived: true });
    expect(body('source_tracking_links', false)).toEqual({ includeDisabled: false });
    expect(body('hiring_team_roles')).toEqual({ namesOnly: false });
  });

  it('names where each stream with custom fields keeps their values', () => {
    const where = Object.fromEntries(
      STREAMS.filter((s) => s.customFieldsObjectType).map((s) => [
        s.name,
        [s.customFieldsObjectType, (s.customFieldsPath ?? ['customFields']).join('.')],
      ]),
    );
    expect(where).toEqual({
      users: ['Employee', 'customFields'],
      jobs: ['Job', 'customFields'],
      openings: ['Opening', 'latestVersion.customFields'],
      candidates: ['Candidate', 'customFields'],
      projects: ['Talent_Project', 'customFieldEntries'],
      applications: ['Application', 'customFields'],
      offers: ['Offer', 'latestVersion.customFields'],
    });
  });

  it('selects default streams, named streams, all streams, and leaves excluded ones out', () => {
    const defaults = selectStreams().map((s) => s.name);
    expect(defaults).toContain('candidates');
    expect(defaults).not.toContain('candidate_notes');
    expect(selectStreams({ streams: ['candidate_notes', 'jobs'] }).map((s) => s.name)).toEqual([
      'jobs',
      'candidate_notes',
    ]);
    expect(selectStreams({ streams: ['all'] })).toHaveLength(STREAMS.length);
    expect(selectStreams({ excludeStreams: ['candidates'] }).map((s) => s.name)).not.toContain('candidates');
    expect(() => selectStreams({ streams: ['candidates', 'nope'] })).toThrow(UnknownStreamError);
  });

  it('syncs the 2026 metadata lists by default and keeps per-parent streams opt-in with their cost', () => {
    const defaults = new Set(selectStreams().map((s) => s.name));
    for (const name of ['close_reasons', 'brands', 'communication_templates', 'hiring_team_roles']) {
      expect(defaults.has(name), name).toBe(true);
      expect(findStream(name)?.parent, name).toBeUndefined();
    }
    expect(findStream('close_reasons')?.body?.({ includeArchived: true })).toEqual({ includeArchived: true });
    const children = {
      candidate_client_info: ['candidates', 'candidateId', 'candidate.listClientInfo'],
      candidate_fraud_checks: ['candidates', 'candidateId', 'candidate.listFraudChecks'],
      application_criteria_evaluations: [
        'applications',
        'applicationId',
        'application.listCriteriaEvaluations',
      ],
      user_interviewer_pauses: ['users', 'userId', 'user.listInterviewerPauses'],
      candidate_notes: ['candidates', 'candidateId', 'candidate.listNotes'],
      interview_events: ['interview_schedules', 'interviewScheduleId', 'interviewEvent.list'],
    } as const;
    for (const [name, [parent, param, endpoint]] of Object.entries(children)) {
      const s = findStream(name);
      expect(s?.endpoint, name).toBe(endpoint);
      expect(s?.optIn, name).toBe(true);
      expect(defaults.has(name), name).toBe(false);
      expect(s?.parent, name).toMatchObject({ kind: 'stream', stream: parent, param });
      // The cost names the parent whose every row costs at least one request.
      expect(s?.cost, name).toContain(`(${parent} rows)`);
      expect(s?.incremental, name).toBe(false);
    }
    expect(findStream('candidate_client_info')?.cost).toBe(
      'one request per 100 records for each candidate (candidates rows)',
    );
    expect(findStream('user_interviewer_pauses')?.cost).toBe('one request for each user (users rows)');
    // Out, each with its reason: no documented shape, and records that cannot be keyed to their parent.
    expect(STREAMS.some((s) => s.endpoint === 'feedbackSubmission.list')).toBe(false);
    expect(NOT_SYNCED['feedbackSubmission.list']).toMatch(/shape/);
    expect(NOT_SYNCED['candidate.listProjects']).toMatch(/candidate/);
  });

  it('tells which records are confidential or hang off confidential jobs', () => {
    const ctx = { jobIds: new Set(['j1']), applicationIds: new Set(['a1']), projectIds: new Set<string>() };
    const is = (name: string, rec: Record<string, unknown>) => findStream(name)?.confidential?.(rec, ctx);
    expect(is('jobs', { id: 'j2', confidential: true })).toBe(true);
    expect(is('jobs', { id: 'j3', confidential: false })).toBe(false);
    expect(is('applications', { id: 'a9', job: { id: 'j1' } })).toBe(true);
    expect(is('openings', { id: 'o1', latestVersion: { jobIds: ['j5', 'j1'] } })).toBe(true);
    expect(is('openings', { id: 'o2', latestVersion: { jobIds: ['j5'] } })).toBe(false);
    expect(is('job_postings', { id: 'p1', jobId: 'j1' })).toBe(true);
    expect(is('offers', { id: 'x', applicationId: 'a1' })).toBe(true);
    expect(is('interview_schedules', { id: 's', applicationId: 'a2' })).toBe(false);
    expect(is('projects', { id: 'p', confidential: true })).toBe(true);
  });
});
