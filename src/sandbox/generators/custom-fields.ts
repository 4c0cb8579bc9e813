/**
 * Custom fields as real accounts send them: the definitions (`customField.list`) and the value entries on
 * records (`customFields`, an offer's `latestVersion.customFields`, a project's `customFieldEntries`).
 * Shapes from the 2026 spec (`customField.info`, `customField.setValue` results) and the fields Airbyte's
 * Ashby source declares (`referenceIdentifier`, `isEditableOnlyViaPublicApi`).
 */
import type { Rng } from '../prng.js';
import { longText } from '../text.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { EPOCH, type Generator, iso, SPAN } from './shared.js';

/** One custom field definition of the sandbox organisation. */
interface CustomFieldDef {
  title: string;
  fieldType: string;
  objectType: string;
  /** Archived definitions keep their values on old records but are offered for no new ones. */
  archived?: boolean;
  /** Readable only by keys with "Allow access to non-offer private fields". */
  private?: boolean;
  /** A value must be given before certain actions on the object. */
  required?: boolean;
  /** Only the public API may change the value (set by an integration). */
  apiOnly?: boolean;
}

/** Custom field definitions: every field type, on each object type, with titles that break naive code. */
const CUSTOM_FIELDS: readonly CustomFieldDef[] = [
  { title: 'Willing to relocate', fieldType: 'Boolean', objectType: 'Candidate' },
  { title: 'Available from', fieldType: 'Date', objectType: 'Candidate' },
  { title: '"drop table"; --', fieldType: 'String', objectType: 'Candidate' },
  { title: 'Cover letter', fieldType: 'LongText', objectType: 'Candidate' },
  { title: 'Years of experience', fieldType: 'Number', objectType: 'Candidate', required: true },
  { title: 'Notice period (weeks)', fieldType: 'NumberRange', objectType: 'Candidate' },
  { title: 'Current salary', fieldType: 'Currency', objectType: 'Candidate', private: true },
  { title: 'Expected compensation', fieldType: 'CompensationRange', objectType: 'Candidate', private: true },
  { title: 'Seniority', fieldType: 'ValueSelect', objectType: 'Candidate' },
  { title: 'Languages', fieldType: 'MultiValueSelect', objectType: 'Candidate' },
  { title: 'a.b', fieldType: 'String', objectType: 'Candidate' },
  { title: 'Ünïcødé 🚀', fieldType: 'String', objectType: 'Candidate' },
  { title: ' \u00a0 ', fieldType: 'String', objectType: 'Candidate' },
  { title: 'Seniority ', fieldType: 'String', objectType: 'Candidate', archived: true },
  { title: 'SENIORITY', fieldType: 'String', objectType: 'Candidate', apiOnly: true },
  { title: 'Referral bonus eligible', fieldType: 'Boolean', objectType: 'Application' },
  { title: 'Screening score', fieldType: 'Number', objectType: 'Application', apiOnly: true },
  { title: 'Screening notes', fieldType: 'LongText', objectType: 'Application' },
  { title: 'Interview track', fieldType: 'ValueSelect', objectType: 'Application' },
  { title: 'Budget', fieldType: 'Currency', objectType: 'Job', private: true },
  { title: 'Salary band', fieldType: 'CompensationRange', objectType: 'Job' },
  { title: 'Cost center', fieldType: 'String', objectType: 'Job' },
  { title: 'Headcount plan', fieldType: 'Date', objectType: 'Opening' },
  { title: 'Team size', fieldType: 'NumberRange', objectType: 'Opening' },
  { title: 'Equity', fieldType: 'Number', objectType: 'Offer', private: true },
  { title: 'Benefits', fieldType: 'MultiValueSelect', objectType: 'Offer' },
  // Added after the fields above, so that their ids (by position) stay the same.
  { title: 'Employee ID', fieldType: 'String', objectType: 'Employee', apiOnly: true },
  { title: 'Office', fieldType: 'ValueSelect', objectType: 'Employee' },
  { title: 'Priority', fieldType: 'ValueSelect', objectType: 'Talent_Project' },
  { title: 'Sourcing channel', fieldType: 'String', objectType: 'Talent_Project' },
  { title: 'Hiring priority', fieldType: 'ValueSelect', objectType: 'Job' },
  { title: 'Budget status', fieldType: 'ValueSelect', objectType: 'Opening' },
];

const SELECTABLE: Record<string, string[]> = {
  Seniority: ['Junior', 'Mid', 'Senior', 'Staff', 'Principal'],
  Languages: ['English', 'Deutsch', 'Français', '日本語', 'العربية'],
  'Interview track': ['Standard', 'Fast track', 'Executive'],
  Benefits: ['Health', 'Dental', 'Vision', '401k', 'Equity refresh'],
  Office: ['Berlin', 'Lisbon', 'Remote'],
  Priority: ['High', 'Medium', 'Low'],
  'Hiring priority': ['P0', 'P1', 'P2'],
  'Budget status': ['Approved', 'Pending approval'],
};

/**
 * The identifier templates and integrations refer to a field by: its title in snake case, or
 * `custom_field_<n>` when the title has no letters or digits to make one from.
 */
function referenceIdentifier(def: Pick<CustomFieldDef, 'title'>, index: number): string {
  const slug = def.title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return slug === '' ? `custom_field_${index}` : slug;
}

/** A definition as `customField.list` returns it. */
export const customField: Generator = {
  kind: 'customField',
  count: () => CUSTOM_FIELDS.length,
  generate(_world, index, id) {
    const def = CUSTOM_FIELDS[index];
    if (!def) return undefined;
    const values = SELECTABLE[def.title];
    return {
      id,
      title: def.title,
      objectType: def.objectType,
      isArchived: def.archived === true,
      fieldType: def.fieldType,
      description: def.archived ? 'Replaced by "Seniority".' : `${def.objectType} field: ${def.title.trim()}`,
      isPrivate: def.private === true,
      isRequired: def.required === true,
      isEditableOnlyViaPublicApi: def.apiOnly === true,
      referenceIdentifier: referenceIdentifier(def, index),
      ...(def.fieldType === 'Date' ? { isDateOnlyField: index % 2 === 0 } : {}),
      ...(values ? { selectableValues: values.map((v) => ({ label: v, value: v, isArchived: false })) } : {}),
    };
  },
};

/**
 * A value entry as records carry it, for the definition at `index`. `valueLabel` is present for select
 * fields only: the option's label (the sandbox labels its options with their values), or the labels of a
 * multi-select.
 */
export function customFieldEntry(world: World, index: number, value: unknown): Rec {
  const def = CUSTOM_FIELDS[index];
  if (!def) throw new Error(`no custom field definition ${index}`);
  const entry: Rec = {
    id: world.id('customField', index),
    title: def.title,
    value,
    isPrivate: def.private === true,
    referenceIdentifier: referenceIdentifier(def, index),
  };
  if (def.fieldType === 'ValueSelect' && typeof value === 'string') entry.valueLabel = value;
  if (def.fieldType === 'MultiValueSelect' && Array.isArray(value)) entry.valueLabel = value.map(String);
  return entry;
}

function seededValue(def: CustomFieldDef, rng: Rng, tag: string): unknown {
  switch (def.fieldType) {
    case 'Boolean':
      return rng.chance(0.5);
    case 'Date':
      return iso(EPOCH + rng.int(0, SPAN));
    case 'String':
      return rng.pick(['yes', 'Ünïcødé 🚀', 'quote " and \\ backslash', 'multi\nline', '']);
    case 'LongText':
      return tag === 'long' ? longText('custom field') : 'A few paragraphs.\n\nSecond paragraph — ok.';
    case 'Number':
      return rng.int(0, 30);
    case 'NumberRange': {
      const min = rng.int(0, 8);
      return { type: 'number-range', minValue: min, maxValue: min + rng.int(0, 8) };
    }
    case 'Currency':
      return { value: rng.int(40, 400) * 1000, currencyCode: rng.pick(['USD', 'EUR', 'JPY']) };
    case 'CompensationRange': {
      const min = rng.int(60, 200) * 1000;
      return {
        type: 'compensation-range',
        minValue: min,
        maxValue: min + 20000,
        currencyCode: 'USD',
        interval: '1 YEAR',
      };
    }
    case 'ValueSelect':
      return rng.pick(SELECTABLE[def.title] ?? ['A']);
    case 'MultiValueSelect': {
      const options = SELECTABLE[def.title] ?? ['A'];
      return options.filter(() => rng.chance(0.4));
    }
    default:
      return null;
  }
}

/**
 * The values of a seeded record of `objectType`: each live definition with a chance of 60 %, every one
 * with `tag: 'long'` (which also makes long texts long).
 */
export function seededCustomFields(world: World, objectType: string, rng: Rng, tag = ''): Rec[] {
  const out: Rec[] = [];
  CUSTOM_FIELDS.forEach((def, index) => {
    if (def.objectType !== objectType || def.archived) return;
    if (!rng.chance(0.6) && tag !== 'long') return;
    out.push(customFieldEntry(world, index, seededValue(def, rng, tag)));
  });
  return out;
}

/** An Ashby user's own custom fields (object type Employee): an HR id and an office. */
export function employeeFields(world: World, index: number): Rec[] {
  const out: Rec[] = [];
  CUSTOM_FIELDS.forEach((def, field) => {
    if (def.objectType !== 'Employee') return;
    const options = SELECTABLE[def.title];
    const value = options ? options[index % options.length] : `E-${1000 + index}`;
    out.push(customFieldEntry(world, field, value));
  });
  return out;
}
