import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { call } from '../sandbox/helpers.js';
import { loadSpec, NORMALISATIONS, normalisationCounts } from '../support/openapi.js';

const spec = loadSpec();

/**
 * Where the sandbox follows API-NOTES.md (2026 behaviour) or reality rather than the 2024 spec:
 * - endpoints added after Nov 2024 have no schema in the 2024 spec, so they are not validated here;
 * - `jobPosting.list`: the 2024 spec requires `locationIds.secondaryLocationId` while declaring the
 *   property as `secondaryLocationIds` (a typo); the sandbox sends the declared property.
 * - `job.list` / `job.info`: the 2024 spec gives `customRequisitionId` a `uuid` format (a reused id
 *   schema); requisition ids are free text such as `REQ-1001`, which the sandbox keeps.
 * - `apiKey.info` adds `scopes` (SPEC-2026) and error bodies add `errorInfo` (SPEC-2026); both are extra
 *   properties the 2024 schemas allow, so they validate anyway.
 */
const NOT_IN_2024_SPEC = ['application.listHistory', 'approval.list', 'jobTemplate.list'];
const KNOWN_SPEC_DEFECTS: Record<string, RegExp> = {
  'jobPosting.list': /secondaryLocationId"/,
  'job.list': /customRequisitionId must match format "uuid"/,
  'job.info': /customRequisitionId must match format "uuid"/,
};

const LISTS = [
  'candidate.list',
  'application.list',
  'applicationFeedback.list',
  'job.list',
  'jobPosting.list',
  'jobBoard.list',
  'opening.list',
  'offer.list',
  'interviewSchedule.list',
  'interview.list',
  'interviewPlan.list',
  'interviewStageGroup.list',
  'interviewerPool.list',
  'feedbackFormDefinition.list',
  'surveyFormDefinition.list',
  'surveyRequest.list',
  'surveySubmission.list',
  'user.list',
  'department.list',
  'location.list',
  'source.list',
  'sourceTrackingLink.list',
  'archiveReason.list',
  'candidateTag.list',
  'customField.list',
  'project.list',
  'hiringTeamRole.list',
  'applicationHiringTeamRole.list',
];

function check(endpoint: string, body: unknown): string[] {
  const defect = KNOWN_SPEC_DEFECTS[endpoint];
  const errors = spec.validateResponse(endpoint, body);
  const real = errors.filter((e) => !defect?.test(e));
  // A known defect in the success branch also makes the error branch of the anyOf report; those two
  // follow-on messages carry no information of their own.
  const cascade = /^\/ (must have required property 'errors'|must match a schema in anyOf)/;
  return real.length < errors.length && real.every((e) => cascade.test(e)) ? [] : real;
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 300, seed: 3 });
});
afterAll(() => sandbox?.close());

describe.skipIf(!spec.available)('sandbox responses conform to the official 2024 spec', () => {
  it('applies each documented normalisation at least once', () => {
    for (const n of NORMALISATIONS) expect(normalisationCounts[n], n).toBeGreaterThan(0);
  });

  it.each(LISTS)('%s: the first pages validate', async (endpoint) => {
    let body: Record<string, unknown> = { limit: 100 };
    for (let page = 0; page < 3; page++) {
      const a = await call(sandbox, endpoint, body);
      expect(a.body.success, JSON.stringify(a.body).slice(0, 300)).toBe(true);
      expect(check(endpoint, a.body)).toEqual([]);
      if (a.body.moreDataAvailable !== true) break;
      body = { cursor: a.body.nextCursor };
    }
  });

  it('info, search and child lists validate', async () => {
    const candidate = (
      sandbox.records('candidate.list') as Array<{ id: string; applicationIds: string[] }>
    )[0];
    const job = (sandbox.records('job.list') as Array<{ id: string }>)[0];
    const plan = (sandbox.records('interviewPlan.list') as Array<{ id: string }>)[0];
    const schedule = (sandbox.records('interviewSchedule.list') as Array<{ id: string }>)[0];
    const cases: Array<[string, Record<string, unknown>]> = [
      ['apiKey.info', {}],
      ['candidate.info', { id: candidate?.id }],
      ['application.info', { applicationId: candidate?.applicationIds[0] }],
      ['job.info', { id: job?.id, expand: ['location'] }],
      ['candidate.search', { email: 'nobody@example.com' }],
      ['candidate.listNotes', { candidateId: candidate?.id }],
      ['interviewStage.list', { interviewPlanId: plan?.id }],
      ['interviewEvent.list', { interviewScheduleId: schedule?.id }],
    ];
    for (const [endpoint, body] of cases) {
      const a = await call(sandbox, endpoint, body);
      expect(a.body.success, endpoint).toBe(true);
      expect(check(endpoint, a.body), endpoint).toEqual([]);
    }
  });

  it('write success bodies and error bodies validate', async () => {
    const created = await call(sandbox, 'candidate.create', {
      name: 'Zoë "Q" Test',
      email: 'zoe.q@example.net',
    });
    expect(check('candidate.create', created.body)).toEqual([]);
    const id = (created.body.results as { id: string }).id;
    expect(
      check(
        'candidate.update',
        (await call(sandbox, 'candidate.update', { candidateId: id, phoneNumber: '+1 555' })).body,
      ),
    ).toEqual([]);
    expect(
      check(
        'candidate.createNote',
        (await call(sandbox, 'candidate.createNote', { candidateId: id, note: 'Hi' })).body,
      ),
    ).toEqual([]);
    const process = await call(sandbox, 'offerProcess.start', {
      applicationId: (sandbox.records('application.list') as Array<{ id: string }>)[0]?.id,
    });
    expect(check('offerProcess.start', process.body)).toEqual([]);
    const hook = await call(sandbox, 'webhook.create', {
      webhookType: 'candidateHire',
      requestUrl: 'https://example.com/h',
      secretToken: 'abc',
    });
    expect(check('webhook.create', hook.body)).toEqual([]);
    const error = await call(sandbox, 'candidate.create', {});
    expect(error.body.success).toBe(false);
    expect(check('candidate.create', error.body)).toEqual([]);
  });

  it('lists the endpoints the 2024 spec lacks', () => {
    for (const e of NOT_IN_2024_SPEC) expect(spec.validateResponse(e, {})[0]).toMatch(/not in the 2024 spec/);
  });
});
