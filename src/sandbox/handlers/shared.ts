/** Checks and filters several families of handlers share. */
import type { RequestContext } from '../context.js';
import { invalidInput, notFound } from '../errors.js';
import type { Kind } from '../ids.js';
import { visible } from '../world/confidential.js';
import type { Rec } from '../world/store.js';
import { kindCode } from './lists.js';
import { optUuid, reqUuid } from './validate.js';

/** An existing record of `kind` the key may see, else `*_not_found` naming the field. */
export function existing(ctx: RequestContext, kind: Kind, id: string, field: string): Rec {
  const rec = ctx.world.get(id, kind);
  if (!rec || !visible(ctx.world, ctx.key, kind, rec)) {
    throw notFound(kindCode(kind), `${kind} ("${field}": ${id})`);
  }
  return rec;
}

/** The record an optional id field names, checked as {@link existing}; `undefined` when absent. */
export function optExisting(ctx: RequestContext, kind: Kind, field: string): Rec | undefined {
  const id = optUuid(ctx.body, field);
  return id === undefined ? undefined : existing(ctx, kind, id, field);
}

/** A UUID inside an array field (`jobIds[2]`), checked as a field of its own. */
export function uuidAt(value: unknown, field: string): string {
  return reqUuid({ [field]: value }, field);
}

export function now(): string {
  return new Date().toISOString();
}

/** The id an info endpoint requires. */
export function requiredId(ctx: RequestContext, field: string): string {
  const v = ctx.body[field];
  if (v === undefined || v === null || v === '') throw invalidInput(`Missing required field "${field}"`);
  if (typeof v !== 'string') throw invalidInput(`"${field}" must be a string`);
  return v;
}

/** The record an info endpoint answers, if the key may see it. */
export function infoOf(ctx: RequestContext, kind: Kind, id: string): Rec {
  const rec = ctx.world.get(id, kind);
  if (!rec || !visible(ctx.world, ctx.key, kind, rec)) throw notFound(kindCode(kind), kind);
  return rec;
}

/** The `expand` array of a request (empty when absent). */
export function expandList(ctx: RequestContext): unknown[] {
  const e = ctx.body.expand;
  if (e === undefined || e === null) return [];
  if (!Array.isArray(e)) throw invalidInput('"expand" must be an array');
  return e;
}

type Filter = (rec: Rec, ctx: RequestContext) => boolean;

/** An equality filter: the record's `field` equals the request's `bodyField` when one is given. */
export function eq(field: string, bodyField = field): Filter {
  return (rec, ctx) => {
    const want = ctx.body[bodyField];
    if (want === undefined || want === null) return true;
    return rec[field] === want;
  };
}

export function all(...filters: Filter[]): Filter {
  return (rec, ctx) => filters.every((f) => f(rec, ctx));
}

/** A date filter in epoch milliseconds (`openedAfter`, `closedBefore`…) on an ISO date field. */
export function epochFilter(field: string, bodyField: string, after: boolean): Filter {
  return (rec, ctx) => {
    const v = ctx.body[bodyField];
    if (v === undefined || v === null) return true;
    if (typeof v !== 'number') throw invalidInput(`"${bodyField}" must be a number (epoch milliseconds)`);
    const t = Date.parse(String(rec[field] ?? ''));
    if (Number.isNaN(t)) return false;
    return after ? t > v : t < v;
  };
}

/** An array filter of the 2026 spec (`offerStatus: [...]`): at least one value, each from `allowed`. */
export function anyOf(param: string, allowed: readonly string[], valueAt: (rec: Rec) => unknown): Filter {
  return (rec, ctx) => {
    const want = ctx.body[param];
    if (want === undefined || want === null) return true;
    if (!Array.isArray(want) || want.length === 0 || want.some((v) => !allowed.includes(String(v)))) {
      throw invalidInput(`"${param}" must be a non-empty array of ${allowed.join(', ')}`);
    }
    return want.includes(valueAt(rec));
  };
}

/** A case-sensitive equality filter on a text field (`jobPosting.list` `location`, `department`). */
export function textFilter(field: string, param: string): Filter {
  return (rec, ctx) => {
    const want = ctx.body[param];
    if (want === undefined || want === null) return true;
    if (typeof want !== 'string') throw invalidInput(`"${param}" must be a string`);
    return rec[field] === want;
  };
}
