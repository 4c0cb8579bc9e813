import { invalidInput } from '../errors.js';
import { isUuid } from '../ids.js';

/** Request-body checks that answer `invalid_input` naming the field, as Ashby's validation does. */
export type Body = Record<string, unknown>;

export function reqString(body: Body, field: string): string {
  const v = body[field];
  if (v === undefined || v === null) throw invalidInput(`Missing required field "${field}"`);
  if (typeof v !== 'string') throw invalidInput(`"${field}" must be a string`);
  if (v.trim() === '') throw invalidInput(`"${field}" must not be empty`);
  return v;
}

export function optString(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidInput(`"${field}" must be a string`);
  return v;
}

export function reqUuid(body: Body, field: string): string {
  const v = reqString(body, field);
  if (!isUuid(v)) throw invalidInput(`"${field}" must be a valid UUID`);
  return v;
}

export function optUuid(body: Body, field: string): string | undefined {
  const v = optString(body, field);
  if (v !== undefined && !isUuid(v)) throw invalidInput(`"${field}" must be a valid UUID`);
  return v;
}

const EMAIL = /^[^\s@"<>]+@[^\s@"<>]+\.[^\s@"<>]+$/;
export function optEmail(body: Body, field: string): string | undefined {
  const v = optString(body, field);
  if (v !== undefined && !EMAIL.test(v)) throw invalidInput(`"${field}" must be a valid email address`);
  return v;
}

export function isEmail(v: unknown): v is string {
  return typeof v === 'string' && EMAIL.test(v);
}

export function optBoolean(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidInput(`"${field}" must be a boolean`);
  return v;
}

export function reqEnum<T extends string>(body: Body, field: string, values: readonly T[]): T {
  const v = reqString(body, field);
  if (!(values as readonly string[]).includes(v)) {
    throw invalidInput(`"${field}" must be one of ${values.join(', ')}`);
  }
  return v as T;
}

export function optEnum<T extends string>(body: Body, field: string, values: readonly T[]): T | undefined {
  const v = optString(body, field);
  if (v !== undefined && !(values as readonly string[]).includes(v)) {
    throw invalidInput(`"${field}" must be one of ${values.join(', ')}`);
  }
  return v as T | undefined;
}

export function optArray(body: Body, field: string): unknown[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalidInput(`"${field}" must be an array`);
  return v;
}

export function optDateTime(body: Body, field: string): string | undefined {
  const v = optString(body, field);
  if (v !== undefined && Number.isNaN(Date.parse(v)))
    throw invalidInput(`"${field}" must be an ISO 8601 date`);
  return v;
}

export function optDate(body: Body, field: string): string | undefined {
  const v = optString(body, field);
  if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v))
    throw invalidInput(`"${field}" must be a date (YYYY-MM-DD)`);
  return v;
}
