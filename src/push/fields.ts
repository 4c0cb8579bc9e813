/**
 * Field types of operation request bodies, and the one pass that coerces an input value to its field's
 * type and validates it. Values from CSV arrive as strings; values from JSON arrive typed. Either way a
 * value is converted only when the conversion is unambiguous; anything else is reported with its path.
 */

/** The type of one request field, in Ashby's terms. */
export type FieldType =
  | 'string'
  | 'email'
  | 'url'
  | 'uuid'
  | 'boolean'
  | 'number'
  | 'integer'
  | 'date'
  | 'datetime'
  | 'enum'
  | 'currency'
  | 'object'
  | 'array'
  /** Any JSON value, passed through untouched (custom field values, offer field values). */
  | 'json';

/** One field of an operation's input record. */
export interface FieldDef {
  readonly type: FieldType;
  /** The record is invalid without it. */
  readonly required?: boolean;
  /** Accepted values of an `enum` field. */
  readonly values?: readonly string[];
  /** Element type of an `array` field. */
  readonly items?: FieldDef;
  /** Members of an `object` field. */
  readonly fields?: Readonly<Record<string, FieldDef>>;
  /** One line for `ashpipe operations`. */
  readonly description?: string;
}

/** Why a record is invalid: where and what. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `location.city` or `socialLinks.0.url`. */
  path: string;
  reason: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Deliberately modest: one @, no spaces, a dot in the domain. Ashby does its own checks on top.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const CURRENCY_CODE = /^[A-Z]{3}$/;
const TRUE = new Set(['true', 'yes', 'y', '1']);
const FALSE = new Set(['false', 'no', 'n', '0']);
/** Characters that suggest a string is a list nobody told us how to split. */
const LIST_SEPARATORS = /[;,|]/;

type Result = { ok: true; value: unknown } | { ok: false; reason: string };

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isRealDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

/** An absent value: missing, null, or an empty/blank CSV cell. */
export function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function coerceScalar(value: unknown, def: FieldDef): Result {
  switch (def.type) {
    case 'json':
      return { ok: true, value };
    case 'string':
      if (typeof value === 'string') return { ok: true, value };
      if (typeof value === 'number' || typeof value === 'boolean') return { ok: true, value: String(value) };
      return { ok: false, reason: `expected text, got ${describe(value)}` };
    case 'email': {
      const text = typeof value === 'string' ? value.trim() : undefined;
      if (text !== undefined && EMAIL.test(text)) return { ok: true, value: text };
      return { ok: false, reason: `not a valid email address: ${describe(value)}` };
    }
    case 'url': {
      const text = typeof value === 'string' ? value.trim() : '';
      try {
        const url = new URL(text);
        if (url.protocol === 'http:' || url.protocol === 'https:') return { ok: true, value: text };
      } catch {
        // falls through to the reason below
      }
      return { ok: false, reason: `not a valid http(s) URL: ${describe(value)}` };
    }
    case 'uuid': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (UUID.test(text)) return { ok: true, value: text.toLowerCase() };
      return { ok: false, reason: `not a valid id (UUID expected): ${describe(value)}` };
    }
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      const text =
        typeof value === 'string' || typeof value === 'number' ? String(value).trim().toLowerCase() : '';
      if (TRUE.has(text)) return { ok: true, value: true };
      if (FALSE.has(text)) return { ok: true, value: false };
      return { ok: false, reason: `not a boolean (true/false, yes/no, 1/0): ${describe(value)}` };
    }
    case 'number':
    case 'integer': {
      let n: number | undefined;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && NUMBER.test(value.trim())) n = Number(value.trim());
      if (n === undefined || !Number.isFinite(n))
        return { ok: false, reason: `not a number: ${describe(value)}` };
      if (def.type === 'integer' && !Number.isInteger(n))
        return { ok: false, reason: `not a whole number: ${describe(value)}` };
      return { ok: true, value: n };
    }
    case 'date': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (isRealDate(text)) return { ok: true, value: text };
      if (DATETIME.test(text) && !Number.isNaN(Date.parse(text)))
        return { ok: true, value: text.slice(0, 10) };
      return { ok: false, reason: `not a date (YYYY-MM-DD): ${describe(value)}` };
    }
    case 'datetime': {
      const text = typeof value === 'string' ? value.trim() : '';
      if (DATETIME.test(text) && !Number.isNaN(Date.parse(text))) return { ok: true, value: text };
      // A bare date is a whole day; midnight UTC is its documented reading, not a guess.
      if (isRealDate(text)) return { ok: true, value: `${text}T00:00:00.000Z` };
      return {
        ok: false,
        reason: `not an ISO 8601 date-time with a time zone (e.g. 2024-05-01T09:30:00Z): ${describe(value)}`,
      };
    }
    case 'enum': {
      const allowed = def.values ?? [];
      const text = typeof value === 'string' ? value.trim() : undefined;
      if (text !== undefined && allowed.includes(text)) return { ok: true, value: text };
      const folded =
        text === undefined ? undefined : allowed.find((a) => a.toLowerCase() === text.toLowerCase());
      if (folded !== undefined) return { ok: true, value: folded };
      return {
        ok: false,
        reason: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${describe(value)}`,
      };
    }
    case 'currency':
      return coerceCurrency(value);
    default:
      return { ok: false, reason: `unsupported field type ${def.type}` };
  }
}

/** Ashby's Currency value: `{currencyCode: "USD", value: 100000}`; also read from `"USD 100000"`. */
function coerceCurrency(value: unknown): Result {
  if (typeof value === 'string') {
    const text = value.trim();
    const m = /^([A-Za-z]{3})\s+([+-]?[\d.]+)$/.exec(text) ?? /^([+-]?[\d.]+)\s+([A-Za-z]{3})$/.exec(text);
    if (m) {
      const [code, amount] = /^[A-Za-z]/.test(m[1] ?? '') ? [m[1], m[2]] : [m[2], m[1]];
      const n = Number(amount);
      if (NUMBER.test(amount ?? '') && Number.isFinite(n))
        return { ok: true, value: { currencyCode: code?.toUpperCase(), value: n } };
    }
    return {
      ok: false,
      reason: `not a currency amount (e.g. "USD 100000" or {"currencyCode":"USD","value":100000}): ${describe(value)}`,
    };
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const code = typeof v.currencyCode === 'string' ? v.currencyCode.trim().toUpperCase() : '';
    const amount = coerceScalar(v.value, { type: 'number' });
    if (CURRENCY_CODE.test(code) && amount.ok)
      return { ok: true, value: { currencyCode: code, value: amount.value } };
    return {
      ok: false,
      reason: `currency needs a 3-letter currencyCode and a numeric value: ${describe(value)}`,
    };
  }
  return { ok: false, reason: `not a currency amount: ${describe(value)}` };
}

/** Options of {@link coerceRecord}. */
export interface CoerceOptions {
  /**
   * Fields the operation does not know are reported as issues (a typo in a column name would otherwise
   * silently drop data); set to drop them instead.
   * @default false
   */
  ignoreUnknown?: boolean;
}

/**
 * Coerces and validates `record` against `fields`. Returns the body to send (blank optional values
 * removed) or every issue found; never throws on bad data.
 */
export function coerceRecord(
  record: Record<string, unknown>,
  fields: Readonly<Record<string, FieldDef>>,
  options: CoerceOptions = {},
): { ok: true; value: Record<string, unknown> } | { ok: false; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const value = coerceObject(record, fields, '', issues, options);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value };
}

function coerceObject(
  record: Record<string, unknown>,
  fields: Readonly<Record<string, FieldDef>>,
  prefix: string,
  issues: FieldIssue[],
  options: CoerceOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(fields)) {
    const path = `${prefix}${name}`;
    const raw = Object.hasOwn(record, name) ? record[name] : undefined;
    if (isBlank(raw)) {
      if (def.required) issues.push({ path, reason: 'is required' });
      continue;
    }
    const coerced = coerceValue(raw, def, path, issues, options);
    if (coerced !== undefined) out[name] = coerced;
  }
  if (!options.ignoreUnknown) {
    for (const name of Object.keys(record)) {
      if (!Object.hasOwn(fields, name) && !isBlank(record[name])) {
        issues.push({
          path: `${prefix}${name}`,
          reason: `unknown field (known: ${Object.keys(fields).join(', ')}); rename it with --map or drop it`,
        });
      }
    }
  }
  return out;
}

/** Coerces one value; pushes issues and returns `undefined` when it cannot. */
export function coerceValue(
  raw: unknown,
  def: FieldDef,
  path: string,
  issues: FieldIssue[],
  options: CoerceOptions = {},
): unknown {
  if (def.type === 'object') {
    let obj = raw;
    if (typeof raw === 'string' && raw.trim().startsWith('{')) obj = parseJson(raw);
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      issues.push({ path, reason: `expected an object, got ${describe(raw)}` });
      return undefined;
    }
    return coerceObject(obj as Record<string, unknown>, def.fields ?? {}, `${path}.`, issues, options);
  }
  if (def.type === 'array') {
    const list = toList(raw);
    if (!list.ok) {
      issues.push({ path, reason: list.reason });
      return undefined;
    }
    const itemDef = def.items ?? { type: 'json' };
    const out: unknown[] = [];
    list.value.forEach((item, i) => {
      if (isBlank(item)) {
        issues.push({ path: `${path}.${i}`, reason: 'empty list element' });
        return;
      }
      const v = coerceValue(item, itemDef, `${path}.${i}`, issues, options);
      if (v !== undefined) out.push(v);
    });
    return out;
  }
  const r = coerceScalar(raw, def);
  if (!r.ok) {
    issues.push({ path, reason: r.reason });
    return undefined;
  }
  return r.value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toList(raw: unknown): { ok: true; value: unknown[] } | { ok: false; reason: string } {
  if (Array.isArray(raw)) return { ok: true, value: raw };
  if (typeof raw === 'string') {
    const text = raw.trim();
    if (text.startsWith('[')) {
      const parsed = parseJson(text);
      if (Array.isArray(parsed)) return { ok: true, value: parsed };
      return { ok: false, reason: `not a valid JSON list: ${describe(raw)}` };
    }
    if (LIST_SEPARATORS.test(text))
      return {
        ok: false,
        reason: `looks like a list but no separator is configured; add {"split": ";"} for this column in --map, or give a JSON list: ${describe(raw)}`,
      };
    return { ok: true, value: [text] };
  }
  if (typeof raw === 'number' || typeof raw === 'boolean') return { ok: true, value: [raw] };
  return { ok: false, reason: `expected a list, got ${describe(raw)}` };
}
