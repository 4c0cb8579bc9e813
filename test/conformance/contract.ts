/**
 * What a request body may hold, by the contract: the official 2024 spec (loaded by `../support/openapi.ts`)
 * and, for what Ashby added since, the 2026 spec's request schemas written out below by hand (that spec
 * does not ship with the tests). A body conforms when
 *
 * 1. it validates against its endpoint's request schema (types, formats, enums, required fields), and
 * 2. every top-level parameter in it is one the contract documents for that endpoint — or the `cursor` the
 *    server handed out on the previous page (Ashby pages some lists its 2024 contract does not, and a client
 *    must follow; echoing the cursor back invents nothing).
 *
 * The second rule is what catches an invented or misspelled parameter (`includeArchieved`): the spec's
 * schemas allow unknown properties, so validation alone would not.
 */
import type { LoadedSpec } from '../support/openapi.js';

const UUID = { type: 'string', format: 'uuid' } as const;

/** The 2026 spec's paging block (`brand.list`'s request, referenced by its other new lists). */
const PAGING_2026 = {
  type: 'object',
  properties: { cursor: { type: 'string' }, limit: { type: 'number' } },
} as const;

/** The 2024 paging block the 2026 spec also references (`surveyFormDefinition.list` → `project.list`). */
const PAGING_2024 = {
  $ref: 'ashby#/paths/~1surveyFormDefinition.list/post/requestBody/content/application~1json/schema',
} as const;

/**
 * Request schemas of endpoints that are not in the 2024 spec, transcribed from the 2026 spec. `null`: the
 * 2026 spec documents no request body.
 */
export const SPEC_2026_REQUESTS: Readonly<Record<string, object | null>> = {
  'application.listHistory': {
    allOf: [{ type: 'object', properties: { applicationId: UUID } }, PAGING_2026],
    required: ['applicationId'],
  },
  'application.listCriteriaEvaluations': {
    allOf: [{ type: 'object', properties: { applicationId: UUID } }, PAGING_2026],
    required: ['applicationId'],
  },
  'approval.list': {
    allOf: [
      PAGING_2024,
      {
        type: 'object',
        properties: { entityType: { type: 'string', enum: ['offer', 'job', 'opening'] }, entityId: UUID },
      },
    ],
  },
  'brand.list': PAGING_2026,
  'candidate.listClientInfo': {
    allOf: [{ type: 'object', properties: { candidateId: UUID } }, PAGING_2024],
    required: ['candidateId'],
  },
  'candidate.listFraudChecks': {
    allOf: [{ type: 'object', properties: { candidateId: UUID } }, PAGING_2026],
    required: ['candidateId'],
  },
  'closeReason.list': { type: 'object', properties: { includeArchived: { type: 'boolean' } } },
  'communicationTemplate.list': null,
  'jobTemplate.list': {
    allOf: [
      PAGING_2024,
      {
        type: 'object',
        properties: { expand: { type: 'array', items: { type: 'string', enum: ['location'] } } },
      },
    ],
  },
  'user.listInterviewerPauses': {
    type: 'object',
    properties: { userId: UUID },
    required: ['userId'],
  },
};

/** Parameters the 2026 spec added to endpoints of the 2024 spec (API-NOTES §4, from SPEC-2026). */
export const ADDED_IN_2026: Readonly<Record<string, readonly string[]>> = {
  'opening.list': ['createdAfter', 'limit'],
};

/**
 * Places where the 2024 spec's request schema contradicts its own description; a validation error there is
 * excused only for the values the description allows. {@link excusedDefects} records which were met, so
 * an entry that no longer excuses anything shows up instead of lingering.
 */
export const REQUEST_SCHEMA_DEFECTS: ReadonlyArray<{
  id: string;
  endpoint: string;
  path: RegExp;
  error: string;
  allows: (value: unknown) => boolean;
  why: string;
}> = [
  {
    id: 'job.update customRequisitionId',
    endpoint: 'job.update',
    path: /^\/customRequisitionId$/,
    error: 'must match format "uuid"',
    allows: (v) => typeof v === 'string',
    why: 'typed with the id schema, but it is the organisation’s own requisition id ("REQ-42"), a string on the job record',
  },
  {
    id: 'application.create interviewStageId',
    endpoint: 'application.create',
    path: /^\/interviewStageId$/,
    error: 'must match format "uuid"',
    allows: (v) => v === 'FirstPreInterviewScreen',
    why: 'typed as a UUID, while its description allows the special string "FirstPreInterviewScreen"',
  },
  {
    id: 'offer.create fieldSubmissions value',
    endpoint: 'offer.create',
    path: /^\/offerForm\/fieldSubmissions\/\d+\/value$/,
    error: 'must be string',
    allows: (v) =>
      typeof v === 'boolean' ||
      Number.isInteger(v) ||
      (Array.isArray(v) && v.every((x) => typeof x === 'string')) ||
      (typeof v === 'object' &&
        v !== null &&
        typeof (v as { currencyCode?: unknown }).currencyCode === 'string' &&
        typeof (v as { value?: unknown }).value === 'number'),
    why: 'typed as a string, while the endpoint’s description lists a boolean, an integer, a {currencyCode, value} object for Currency and an array of strings for MultiValueSelect',
  },
];

/** Ids of the {@link REQUEST_SCHEMA_DEFECTS} that excused an error so far. */
export const excusedDefects = new Set<string>();

function valueAt(body: unknown, pointer: string): unknown {
  let node = body;
  for (const seg of pointer.split('/').slice(1)) node = (node as Record<string, unknown> | undefined)?.[seg];
  return node;
}

/** Drops the validation errors a documented defect of the spec excuses. */
function withoutDefects(endpoint: string, body: unknown, errors: string[]): string[] {
  return errors.filter((e) => {
    const pointer = e.slice(0, e.indexOf(' '));
    const defect = REQUEST_SCHEMA_DEFECTS.find(
      (d) => d.endpoint === endpoint && d.path.test(pointer) && e.includes(d.error),
    );
    if (!defect?.allows(valueAt(body, pointer))) return true;
    excusedDefects.add(defect.id);
    return false;
  });
}

/** Whether the contract documents the endpoint at all (2024 spec or the 2026 table above). */
export function documented(spec: LoadedSpec, endpoint: string): boolean {
  return spec.requestParameters(endpoint) !== undefined || endpoint in SPEC_2026_REQUESTS;
}

/**
 * Why a request body does not conform, one line per problem (none when it does). `handedOut` is the set
 * of cursors the server gave the client, which it may send back to any list.
 */
export function requestProblems(
  spec: LoadedSpec,
  endpoint: string,
  body: Record<string, unknown>,
  handedOut: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  let parameters: Set<string>;
  const in2024 = spec.requestParameters(endpoint);
  if (in2024 !== undefined) {
    parameters = new Set([...in2024, ...(ADDED_IN_2026[endpoint] ?? [])]);
    if (in2024.size > 0)
      problems.push(...withoutDefects(endpoint, body, spec.validateRequest(endpoint, body)));
  } else if (endpoint in SPEC_2026_REQUESTS) {
    const schema = SPEC_2026_REQUESTS[endpoint];
    parameters = new Set(schema ? spec.parametersOf(schema) : []);
    if (schema) problems.push(...spec.validateAgainst(schema, body));
  } else {
    return [`${endpoint} is in neither the 2024 spec nor the 2026 table`];
  }
  for (const [key, value] of Object.entries(body)) {
    if (parameters.has(key)) continue;
    if (key === 'cursor' && typeof value === 'string' && handedOut.has(value)) continue;
    problems.push(`"${key}" is not a parameter of ${endpoint}`);
  }
  return problems;
}
