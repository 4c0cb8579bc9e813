/** The organisation's settings lists (sources, reasons, templates, brands), custom fields and files. */
import type { Handlers } from '../context.js';
import { invalidInput } from '../errors.js';
import { customFieldEntry } from '../generators/custom-fields.js';
import type { Kind } from '../ids.js';
import type { Rec } from '../world/store.js';
import { flag, includeArchived, listHandler } from './lists.js';
import { existing, infoOf, requiredId } from './shared.js';
import { type Body, reqEnum, reqUuid } from './validate.js';

/** A `customField.setValue` value checked against the field's type. */
function customFieldValue(fieldType: string, value: unknown, selectable: string[] | undefined): unknown {
  const bad = (what: string) => invalidInput(`"fieldValue" must be ${what} for a ${fieldType} field`);
  switch (fieldType) {
    case 'Boolean':
      if (typeof value !== 'boolean') throw bad('a boolean');
      return value;
    case 'Date':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw bad('an ISO 8601 date');
      return new Date(value).toISOString();
    case 'String':
    case 'LongText':
    case 'Email':
    case 'Phone':
      if (typeof value !== 'string') throw bad('a string');
      return value;
    case 'Number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad('a number');
      return value;
    case 'ValueSelect':
      if (typeof value !== 'string' || (selectable && !selectable.includes(value)))
        throw bad('one of the selectable values');
      return value;
    case 'MultiValueSelect':
      if (
        !Array.isArray(value) ||
        value.some((v) => typeof v !== 'string' || (selectable && !selectable.includes(v)))
      ) {
        throw bad('an array of selectable values');
      }
      return value;
    case 'NumberRange': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (v.type !== 'number-range' || typeof v.minValue !== 'number' || typeof v.maxValue !== 'number') {
        throw bad('{type:"number-range", minValue, maxValue}');
      }
      return { type: 'number-range', minValue: v.minValue, maxValue: v.maxValue };
    }
    case 'CompensationRange': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (
        v.type !== 'compensation-range' ||
        typeof v.minValue !== 'number' ||
        typeof v.maxValue !== 'number' ||
        typeof v.currencyCode !== 'string' ||
        typeof v.interval !== 'string'
      ) {
        throw bad('{type:"compensation-range", minValue, maxValue, currencyCode, interval}');
      }
      return {
        type: 'compensation-range',
        minValue: v.minValue,
        maxValue: v.maxValue,
        currencyCode: v.currencyCode,
        interval: v.interval,
      };
    }
    case 'Currency': {
      const v = (typeof value === 'object' && value !== null ? value : {}) as Body;
      if (typeof v.value !== 'number' || typeof v.currencyCode !== 'string')
        throw bad('{currencyCode, value}');
      return { value: v.value, currencyCode: v.currencyCode };
    }
    default:
      throw bad('a supported value');
  }
}

export const metadataHandlers: Handlers = {
  // The lists marked `paged` are paged by the reference connectors.
  'source.list': listHandler({ kind: 'source', paged: true, filter: includeArchived }),
  'sourceTrackingLink.list': listHandler({
    kind: 'sourceTrackingLink',
    paged: true,
    filter: (rec, ctx) => flag(ctx, 'includeDisabled') === true || rec.enabled !== false,
  }),
  'archiveReason.list': listHandler({ kind: 'archiveReason', paged: true, filter: includeArchived }),
  // ---- 2026 list endpoints, shapes from SPEC-2026 (not in the 2024 spec)
  'brand.list': listHandler({ kind: 'brand' }),
  'closeReason.list': listHandler({ kind: 'closeReason', filter: includeArchived }),
  'communicationTemplate.list': listHandler({ kind: 'communicationTemplate' }),

  'customField.list': listHandler({ kind: 'customField', filter: includeArchived }),
  'customField.info': (ctx) => ({ results: infoOf(ctx, 'customField', requiredId(ctx, 'customFieldId')) }),
  'customField.setValue': (ctx) => {
    const objectId = reqUuid(ctx.body, 'objectId');
    const objectType = reqEnum(ctx.body, 'objectType', [
      'Application',
      'Candidate',
      'Job',
      'Opening',
    ] as const);
    const fieldId = reqUuid(ctx.body, 'fieldId');
    if (!('fieldValue' in ctx.body)) throw invalidInput('Missing required field "fieldValue"');
    const field = existing(ctx, 'customField', fieldId, 'fieldId');
    if (field.objectType !== objectType) {
      throw invalidInput(`"fieldId" is a ${String(field.objectType)} field, not a ${objectType} field`);
    }
    const kind = (objectType[0]?.toLowerCase() ?? '') + objectType.slice(1);
    const object = existing(ctx, kind as Kind, objectId, 'objectId');
    const selectable = Array.isArray(field.selectableValues)
      ? (field.selectableValues as Rec[]).map((v) => String(v.value))
      : undefined;
    const value = customFieldValue(String(field.fieldType), ctx.body.fieldValue, selectable);
    // Only seeded definitions exist (customField.create is not served), so the index is a seeded one.
    const entry = customFieldEntry(ctx.world, ctx.world.indexOf(fieldId, 'customField') ?? -1, value);
    const list =
      objectType === 'Opening'
        ? ((object.latestVersion as Rec | undefined)?.customFields ?? [])
        : (object.customFields ?? []);
    const next = [...(Array.isArray(list) ? (list as Rec[]) : []).filter((f) => f.id !== fieldId), entry];
    if (objectType === 'Opening') {
      ctx.world.update(objectId, { latestVersion: { ...(object.latestVersion as Rec), customFields: next } });
    } else ctx.world.update(objectId, { customFields: next });
    return { results: entry, naturalKey: `${objectId}:${fieldId}` };
  },

  'file.info': (ctx) => {
    const handle = requiredId(ctx, 'fileHandle');
    return { results: { url: `https://files.sandbox.invalid/${encodeURIComponent(handle)}` } };
  },
};
