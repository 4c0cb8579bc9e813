import { type EndpointSpec, findEndpoint, getEndpoint, type Scope } from '../../ashby/catalogue.js';
import { defined } from '../../util/defined.js';
import type { FieldDef } from '../fields.js';
import type { Operation, OperationScopes } from '../types.js';
import { applicationChangeStage } from './application-change-stage.js';
import { applicationCreate } from './application-create.js';
import { applicationUpdate } from './application-update.js';
import { candidateAddTag } from './candidate-add-tag.js';
import { candidateCreate } from './candidate-create.js';
import { candidateCreateNote } from './candidate-create-note.js';
import { candidateUpdate } from './candidate-update.js';
import { customFieldSetValue } from './custom-field-set-value.js';
import { jobCreate } from './job-create.js';
import { jobUpdate } from './job-update.js';
import { offerProcessStart } from './offer-process-start.js';
import { openingCreate } from './opening-create.js';
import { OUTCOME_UNKNOWN, RecordRejectedError, savedIds } from './shared.js';

/** Every destination operation with its own semantics; one file each, one line here. */
export const OPERATIONS: readonly Operation[] = [
  candidateCreate,
  candidateUpdate,
  candidateAddTag,
  candidateCreateNote,
  jobCreate,
  jobUpdate,
  applicationCreate,
  applicationChangeStage,
  applicationUpdate,
  offerProcessStart,
  customFieldSetValue,
  openingCreate,
];

/** A push operation as the key's permission warnings and the console list it. */
export interface WriteOperation {
  /** The operation's name, which is the endpoint it writes with. @example 'candidate.create' */
  readonly name: string;
  /** As Ashby's docs title it. @example 'Create Candidate' */
  readonly title: string;
  /** The permission its endpoint needs, from the catalogue. @example 'candidatesWrite' */
  readonly scope: Scope;
}

/**
 * Every operation of {@link OPERATIONS} with the permission of the endpoint it is named after: derived, so
 * that a new operation appears in the key's warnings and the console's list without a second entry.
 */
export const WRITE_OPERATIONS: readonly WriteOperation[] = OPERATIONS.map((op) => {
  const scope = getEndpoint(op.name).scope;
  if (!scope) throw new Error(`operation ${op.name} writes with an endpoint that needs no permission`);
  return { name: op.name, title: op.title, scope };
});

export function findOperation(name: string): Operation | undefined {
  const canonical = findEndpoint(name)?.name ?? name;
  return OPERATIONS.find((o) => o.name === canonical);
}

/** Read and write scopes an operation needs, from the catalogue entries of its endpoints. */
export function operationScopes(op: Pick<Operation, 'endpoints'>): OperationScopes {
  const read = new Set<NonNullable<EndpointSpec['scope']>>();
  const write = new Set<NonNullable<EndpointSpec['scope']>>();
  for (const name of op.endpoints) {
    const spec = findEndpoint(name);
    if (!spec?.scope) continue;
    (spec.access === 'write' ? write : read).add(spec.scope);
  }
  return { read: [...read], write: [...write] };
}

/** Field type guessed from Ashby's naming conventions, for manual mode where no template exists. */
function conventionalField(name: string): FieldDef {
  if (/Ids$/.test(name)) return { type: 'array', items: { type: 'uuid' } };
  if (/Id$/.test(name) || name === 'id') return { type: 'uuid' };
  if (/^email$|Email$/.test(name)) return { type: 'email' };
  if (/Url$/.test(name)) return { type: 'url' };
  if (/At$/.test(name)) return { type: 'datetime' };
  return { type: 'json' };
}

/**
 * Manual mode: sends each record as the body of any write endpoint of the catalogue. Fields named like
 * ids, emails, URLs and timestamps are still validated by Ashby's naming conventions. Endpoints that are
 * safe to repeat are re-sent after an unknown outcome; creates whose template has a natural-key look-up
 * are reconciled through it (the ids it finds are saved before each send); others are reported for a
 * person to check rather than resent.
 */
export function manualOperation(endpoint: EndpointSpec): Operation {
  const lookUp = endpoint.retrySafe ? undefined : findOperation(endpoint.name)?.lookUp;
  return {
    name: `endpoint:${endpoint.name}`,
    title: `Send ${endpoint.name}`,
    kind: endpoint.retrySafe ? 'update' : 'create',
    endpoints: lookUp ? (findOperation(endpoint.name)?.endpoints ?? [endpoint.name]) : [endpoint.name],
    fields: {},
    example: {},
    description: `Sends each record as the body of ${endpoint.name}.`,
    reconcilable: endpoint.retrySafe || lookUp !== undefined,
    ...(lookUp ? { lookUp } : {}),
    async execute(ctx) {
      if (ctx.resume.reconciling && !endpoint.retrySafe) {
        if (!lookUp)
          throw new RecordRejectedError(
            OUTCOME_UNKNOWN,
            `an earlier ${endpoint.name} request may have reached Ashby and there is no natural key to check; verify in Ashby, then replay the record from the quarantine if it is missing`,
          );
        const before = savedIds(ctx);
        const appeared = (await lookUp(ctx)).filter((id) => !before.has(id));
        if (appeared[0]) return { status: 'created', id: appeared[0], reconciled: true };
      }
      const before = lookUp && !ctx.dryRun ? await lookUp(ctx) : undefined;
      const result = await ctx.write<unknown>(
        endpoint.name,
        ctx.record,
        before ? { data: { before } } : undefined,
      );
      const id =
        result !== null && typeof result === 'object' && typeof (result as { id?: unknown }).id === 'string'
          ? (result as { id: string }).id
          : undefined;
      return { status: endpoint.retrySafe ? 'updated' : 'created', ...defined({ id }) };
    },
  };
}

/** Fields of manual mode records: each key typed by convention, nothing unknown. */
export function manualFields(record: Record<string, unknown>): Record<string, FieldDef> {
  const fields: Record<string, FieldDef> = {};
  for (const k of Object.keys(record)) fields[k] = conventionalField(k);
  return fields;
}
