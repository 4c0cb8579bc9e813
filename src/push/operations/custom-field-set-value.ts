import { coerceValue, type FieldDef, type FieldIssue } from '../fields.js';
import type { Operation } from '../types.js';
import { EXAMPLE_ID, id, RecordRejectedError, selectDef } from './shared.js';

interface CustomFieldDefinition {
  id: string;
  fieldType?: string;
  objectType?: string;
  selectableValues?: Array<{ value?: string; label?: string; isArchived?: boolean }>;
}

const RANGE_INTERVALS = [
  'NONE',
  '1 TIME',
  '1 HOUR',
  '1 DAY',
  '1 WEEK',
  '2 WEEK',
  '1 MONTH',
  '2 MONTH',
  '1 YEAR',
  '6 MONTH',
  '0.5 MONTH',
  '3 MONTH',
];

/** How a value of each custom field type is read from the input (API-NOTES §2: value formats per type). */
function definitionFor(fieldType: string, options: string[]): FieldDef | undefined {
  switch (fieldType) {
    case 'Boolean':
      return { type: 'boolean' };
    case 'Date':
      return { type: 'datetime' };
    case 'Number':
      return { type: 'number' };
    case 'String':
    case 'LongText':
    case 'Email':
    case 'Phone':
      return { type: 'string' };
    case 'ValueSelect':
      return selectDef(options);
    case 'MultiValueSelect':
      return { type: 'array', items: selectDef(options) };
    case 'Currency':
      return { type: 'currency' };
    case 'NumberRange':
      return {
        type: 'object',
        fields: {
          minValue: { type: 'number', required: true },
          maxValue: { type: 'number', required: true },
        },
      };
    case 'CompensationRange':
      return {
        type: 'object',
        fields: {
          minValue: { type: 'number', required: true },
          maxValue: { type: 'number', required: true },
          currencyCode: { type: 'string', required: true },
          interval: { type: 'enum', values: RANGE_INTERVALS, required: true },
        },
      };
    default:
      return undefined;
  }
}

/** Set Custom Field Value: the value is coerced by the field's own type, read with customField.info. */
export const customFieldSetValue: Operation = {
  name: 'customField.setValue',
  title: 'Set Custom Field Value',
  kind: 'update',
  endpoints: ['customField.info', 'customField.setValue'],
  description:
    'Sets a custom field on an application, candidate, job or opening; the value is read according to the field’s type (Boolean, Date, Number, ValueSelect, MultiValueSelect, NumberRange, CompensationRange, …).',
  fields: {
    objectId: id('The application, candidate, job or opening', true),
    objectType: {
      type: 'enum',
      values: ['Application', 'Candidate', 'Job', 'Opening'],
      required: true,
      description: 'What objectId is',
    },
    fieldId: id('The custom field', true),
    fieldValue: { type: 'json', required: true, description: 'The value, in the field’s type' },
  },
  example: { objectId: EXAMPLE_ID[0], objectType: 'Candidate', fieldId: EXAMPLE_ID[1], fieldValue: 'true' },
  async execute(ctx) {
    const { objectId, objectType, fieldId, fieldValue } = ctx.record;
    const definition = await ctx.read<CustomFieldDefinition>('customField.info', { customFieldId: fieldId });
    const options = (definition?.selectableValues ?? [])
      .filter((o) => o.isArchived !== true && typeof o.value === 'string')
      .map((o) => o.value as string);
    const def = definitionFor(definition?.fieldType ?? '', options);
    let value = fieldValue;
    if (def !== undefined) {
      const issues: FieldIssue[] = [];
      value =
        definition?.fieldType === 'NumberRange'
          ? { type: 'number-range', ...(coerceValue(fieldValue, def, 'fieldValue', issues) as object) }
          : definition?.fieldType === 'CompensationRange'
            ? {
                type: 'compensation-range',
                ...(coerceValue(fieldValue, def, 'fieldValue', issues) as object),
              }
            : coerceValue(fieldValue, def, 'fieldValue', issues);
      if (issues[0])
        throw new RecordRejectedError(
          'invalid_input',
          `${issues[0].reason} (field ${fieldId} is ${definition?.fieldType})`,
          issues[0].path,
        );
    }
    await ctx.write('customField.setValue', { objectId, objectType, fieldId, fieldValue: value });
    return { status: 'updated', id: String(objectId) };
  },
};
