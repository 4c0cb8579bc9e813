import { coerceValue, type FieldDef, type FieldIssue } from '../fields.js';
import type { Operation, OperationContext } from '../types.js';
import {
  EXAMPLE_ID,
  id,
  OUTCOME_UNKNOWN,
  RecordRejectedError,
  readList,
  savedIds,
  selectDef,
  type WithId,
} from './shared.js';

interface FormField {
  isRequired?: boolean;
  field?: {
    id?: string;
    type?: string;
    path?: string;
    humanReadablePath?: string;
    title?: string;
    selectableValues?: Array<{ label?: string; value?: string }> | { label?: string; value?: string };
  };
}
interface OfferForm {
  id: string;
  formDefinition?: { sections?: Array<{ fields?: FormField[] }> };
}

const norm = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '');

function defFor(field: NonNullable<FormField['field']>): FieldDef {
  // The 2024 spec types `selectableValues` as one {label, value} object, which cannot be the whole list
  // of options: only an array is checked here; otherwise Ashby checks the value itself.
  const raw = field.selectableValues;
  const list = Array.isArray(raw) ? raw : [];
  const options = list.map((o) => o.value).filter((v): v is string => typeof v === 'string');
  switch (field.type) {
    case 'Boolean':
      return { type: 'boolean' };
    case 'Currency':
      return { type: 'currency' };
    case 'Date':
      return { type: 'date' };
    case 'Number':
      return { type: 'integer' };
    case 'ValueSelect':
      return selectDef(options);
    case 'MultiValueSelect':
      return { type: 'array', items: selectDef(options) };
    case 'String':
      return { type: 'string' };
    default:
      return { type: 'json' };
  }
}

/**
 * Maps the record's `offer` values onto the form's fields, matched by path, human-readable path or title
 * (case, spaces and underscores ignored), each coerced by the field's type.
 */
function fieldSubmissions(
  form: OfferForm,
  values: Record<string, unknown>,
): { ok: true; value: Array<{ path: string; value: unknown }> } | { ok: false; issues: FieldIssue[] } {
  const fields = (form.formDefinition?.sections ?? []).flatMap((s) => s.fields ?? []);
  const issues: FieldIssue[] = [];
  const out: Array<{ path: string; value: unknown }> = [];
  const used = new Set<string>();
  for (const f of fields) {
    const field = f.field;
    if (!field?.path) continue;
    const names = [field.path, field.humanReadablePath, field.title]
      .filter((n): n is string => typeof n === 'string')
      .map(norm);
    const key = Object.keys(values).find((k) => names.includes(norm(k)));
    if (key === undefined || values[key] === undefined || values[key] === '') {
      if (f.isRequired)
        issues.push({
          path: `offer.${field.path}`,
          reason: `the offer form requires "${field.title ?? field.path}"`,
        });
      continue;
    }
    used.add(key);
    const v = coerceValue(values[key], defFor(field), `offer.${key}`, issues);
    if (v !== undefined) out.push({ path: field.path, value: v });
  }
  for (const k of Object.keys(values)) {
    if (!used.has(k) && values[k] !== undefined && values[k] !== '')
      issues.push({ path: `offer.${k}`, reason: 'no field of the offer form has this path or title' });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out };
}

async function offersOf(ctx: OperationContext, applicationId: string): Promise<string[]> {
  return (await readList(ctx, 'offer.list', { applicationId })).map((o) => o.id);
}

/**
 * Start Offer Process, and when the record carries `offer` values, on through `offer.start` and
 * `offer.create`. Each step is saved, so a rerun continues after the last step that completed.
 */
export const offerProcessStart: Operation = {
  name: 'offerProcess.start',
  title: 'Start Offer Process',
  kind: 'create',
  endpoints: ['offerProcess.start', 'offer.start', 'offer.list', 'offer.create'],
  description:
    'Starts the offer process of an application. With offer.* columns (matched to the offer form by path or title) it goes on to offer.start and offer.create. The application is the natural key.',
  fields: {
    applicationId: id('Application receiving the offer', true),
    offer: {
      type: 'json',
      description: 'Offer form values by field path or title, e.g. offer.salary, offer.startDate',
    },
  },
  example: { applicationId: EXAMPLE_ID[0], 'offer.Salary': 'USD 150000', 'offer.Start Date': '2025-09-01' },
  ledgerKey: (record) => `application:${String(record.applicationId)}`,
  reconcilable: false,
  check(record) {
    const offer = record.offer;
    if (offer !== undefined && (offer === null || typeof offer !== 'object' || Array.isArray(offer)))
      return [
        { path: 'offer', reason: 'must be an object of offer form values (use offer.<field> columns)' },
      ];
    return [];
  },
  async execute(ctx) {
    const applicationId = String(ctx.record.applicationId);
    const data = ctx.resume.data;
    let processId = typeof data.offerProcessId === 'string' ? data.offerProcessId : undefined;
    if (processId === undefined) {
      if (ctx.resume.reconciling && ctx.resume.step === 'offerProcess.start') {
        // No endpoint lists the offer processes of an application, so a start whose answer was lost cannot
        // be looked up, and sending it again could start a second process. A person decides.
        throw new RecordRejectedError(
          OUTCOME_UNKNOWN,
          `offerProcess.start for application ${applicationId} may have reached Ashby but its answer was lost, and no endpoint lists offer processes; check the application in Ashby, then replay this record from the quarantine if it has no offer process`,
          'applicationId',
        );
      }
      const started = await ctx.write<WithId>('offerProcess.start', { applicationId });
      processId = started.id;
      await ctx.checkpoint('offerProcess.started', { offerProcessId: processId });
    }
    const offer = ctx.record.offer as Record<string, unknown> | undefined;
    if (offer === undefined) return { status: 'created', id: processId };
    if (typeof data.offerId === 'string')
      return { status: 'created', id: data.offerId, detail: { offerProcessId: processId } };
    if (ctx.resume.reconciling && ctx.resume.step === 'offer.create') {
      const before = savedIds(ctx);
      const appeared = (await offersOf(ctx, applicationId)).filter((o) => !before.has(o));
      if (appeared[0])
        return {
          status: 'created',
          id: appeared[0],
          reconciled: true,
          detail: { offerProcessId: processId },
        };
    }
    // offer.start only opens a form version; starting another one after a crash creates no offer.
    const form = await ctx.write<OfferForm>('offer.start', { offerProcessId: processId });
    await ctx.checkpoint('offer.started', { offerProcessId: processId, offerFormId: form.id });
    const submissions = fieldSubmissions(form, offer);
    if (!submissions.ok) {
      const first = submissions.issues[0] as FieldIssue;
      throw new RecordRejectedError(
        'invalid_input',
        submissions.issues.map((i) => `${i.path}: ${i.reason}`).join('; '),
        first.path,
      );
    }
    const before = await offersOf(ctx, applicationId);
    const created = await ctx.write<WithId>(
      'offer.create',
      { offerProcessId: processId, offerFormId: form.id, offerForm: { fieldSubmissions: submissions.value } },
      { data: { before } },
    );
    await ctx.checkpoint('offer.created', { offerId: created.id });
    return { status: 'created', id: created.id, detail: { offerProcessId: processId, offerFormId: form.id } };
  },
};
