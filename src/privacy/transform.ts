/**
 * Applying a policy to a record: a new record is returned, the input is never changed (a page may be
 * logged or retried as read). Every action is idempotent, so a record transformed twice (an event stored
 * transformed by the receiver, then applied) is stored the same as one transformed once.
 */
import { createHmac } from 'node:crypto';
import type { CustomFieldRule, FieldRule, PiiAction, PiiKind, PiiPolicy } from './types.js';

/** A hash as stored: HMAC-SHA256 in lowercase hex. A value of this form is taken as already hashed. */
const HASHED = /^[0-9a-f]{64}$/;
/** What a text is replaced with by `mask`. */
export const MASKED_TEXT = '[removed]';

type Json = unknown;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The value `hash` feeds to the HMAC: the same address or number written differently hashes the same. */
export function normalizeForHash(value: string, kind: PiiKind): string {
  const trimmed = value.trim();
  if (kind === 'email') return trimmed.toLowerCase();
  if (kind === 'phone') return trimmed.replace(/(?!^\+)[^0-9]/g, '');
  if (kind === 'name') return trimmed.replace(/\s+/g, ' ').toLowerCase();
  return trimmed;
}

/**
 * The catalogue's mask of one value of `kind`: an email keeps its domain, a phone its last two digits, a
 * name its initials, a URL its origin; other texts become {@link MASKED_TEXT}.
 * @example maskString('ada@example.com', 'email') // '***@example.com'
 */
export function maskString(value: string, kind: PiiKind): string {
  switch (kind) {
    case 'email': {
      const at = value.lastIndexOf('@');
      return at < 0 ? MASKED_TEXT : `***${value.slice(at)}`;
    }
    case 'phone': {
      // Masked digits count as digits, so a masked number masks to itself.
      const digits = value.replace(/[^0-9*]/g, '');
      if (digits.length <= 2) return '*'.repeat(digits.length);
      return `${'*'.repeat(digits.length - 2)}${digits.slice(-2)}`;
    }
    case 'name':
      return value
        .trim()
        .split(/\s+/)
        .filter((w) => w !== '')
        .map((w) => `${[...w][0] ?? ''}.`)
        .join(' ');
    case 'url':
      try {
        return `${new URL(value).origin}/…`;
      } catch {
        return MASKED_TEXT;
      }
    case 'location': {
      // The last part of "City, Region, Country": the country.
      const parts = value.split(',');
      return (parts[parts.length - 1] ?? '').trim();
    }
    case 'ip': {
      if (/^\d+\.\d+\.\d+\.\d+$/.test(value)) return value.replace(/\.\d+$/, '.0');
      if (value.includes(':')) return `${value.split(':').slice(0, 3).join(':')}::`;
      return MASKED_TEXT;
    }
    default:
      return MASKED_TEXT;
  }
}

/** `mask`: strings shortened by kind; numbers and booleans of texts (scores, ratings) are kept. */
function mask(value: Json, kind: PiiKind): Json {
  if (typeof value === 'string') return maskString(value, kind);
  if (Array.isArray(value)) return value.map((v) => mask(v, kind));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, kind)]));
  if (kind === 'money' && typeof value === 'number') return null;
  return value;
}

/** Parsed `a.b[].c.*` */
interface Step {
  key: string;
  each: boolean;
}

function parsePath(path: string): Step[] {
  return path.split('.').map((part) => {
    const each = part.endsWith('[]');
    return { key: each ? part.slice(0, -2) : part, each };
  });
}

/** Transforms records with a policy; `hashKey` is needed when the policy hashes. */
export class PiiTransformer {
  private readonly rules: Map<string, Array<{ steps: Step[]; rule: FieldRule }>>;
  private readonly byId = new Map<string, CustomFieldRule>();
  private readonly byTitle = new Map<string, CustomFieldRule>();

  constructor(
    readonly policy: PiiPolicy,
    private readonly hashKey: Buffer | undefined,
    /** Identifies the policy and key; stored with each stream's state. */
    readonly fingerprint: string,
  ) {
    this.rules = new Map(
      Object.entries(policy.streams).map(([stream, rules]) => [
        stream,
        rules.filter((r) => r.action !== 'keep').map((rule) => ({ steps: parsePath(rule.path), rule })),
      ]),
    );
    for (const rule of policy.customFields) {
      if (rule.id !== undefined) this.byId.set(rule.id, rule);
      if (rule.title !== undefined) this.byTitle.set(titleKey(rule.title), rule);
    }
  }

  /** Whether the policy changes anything in records of `stream`. */
  touches(stream: string): boolean {
    return (this.rules.get(stream)?.length ?? 0) > 0 || this.byId.size > 0 || this.byTitle.size > 0;
  }

  /** HMAC-SHA256 of the normalised value, in hex; an already hashed value is returned as it is. */
  hash(value: Json, kind: PiiKind): Json {
    if (value === null || value === undefined) return value;
    if (typeof value === 'string' && HASHED.test(value)) return value;
    if (!this.hashKey) throw new Error('the PII policy hashes but no hash key was given');
    const text = typeof value === 'string' ? normalizeForHash(value, kind) : JSON.stringify(value);
    return createHmac('sha256', this.hashKey).update(text).digest('hex');
  }

  /** The record of `stream` as the policy stores it. */
  record(stream: string, record: Record<string, unknown>): Record<string, unknown> {
    const rules = this.rules.get(stream) ?? [];
    const personalFields = this.byId.size > 0 || this.byTitle.size > 0;
    if (rules.length === 0 && !personalFields) return record;
    let out: Record<string, unknown> = structuredClone(record);
    for (const { steps, rule } of rules) out = this.applyAt(out, steps, rule.action, rule.kind) as typeof out;
    if (personalFields) this.customFields(out);
    return out;
  }

  private act(value: Json, action: PiiAction, kind: PiiKind): Json {
    if (action === 'hash') return this.hash(value, kind);
    if (action === 'mask') return mask(value, kind);
    return value;
  }

  /** Applies the action at the path below `node`; returns the node (changed in place). */
  private applyAt(node: Json, steps: readonly Step[], action: PiiAction, kind: PiiKind): Json {
    const [step, ...rest] = steps;
    if (!step || !isObject(node)) return node;
    const keys = step.key === '*' ? Object.keys(node) : Object.hasOwn(node, step.key) ? [step.key] : [];
    for (const key of keys) {
      const value = node[key];
      if (step.each) {
        if (!Array.isArray(value)) continue;
        if (rest.length === 0) {
          if (action === 'drop') delete node[key];
          else node[key] = value.map((v) => this.act(v, action, kind));
        } else node[key] = value.map((v) => this.applyAt(v, rest, action, kind));
      } else if (rest.length === 0) {
        if (action === 'drop') delete node[key];
        else node[key] = this.act(value, action, kind);
      } else this.applyAt(value, rest, action, kind);
    }
    return node;
  }

  /** Custom field values marked personal, wherever a record keeps its lists of them. */
  private customFields(node: Json): void {
    if (Array.isArray(node)) {
      for (const v of node) this.customFields(v);
      return;
    }
    if (!isObject(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if ((key === 'customFields' || key === 'customFieldEntries') && Array.isArray(value)) {
        node[key] = value.map((entry) => this.customField(entry));
      } else if (typeof value === 'object' && value !== null) this.customFields(value);
    }
  }

  private customField(entry: Json): Json {
    if (!isObject(entry)) return entry;
    const rule =
      (typeof entry.id === 'string' ? this.byId.get(entry.id) : undefined) ??
      (typeof entry.title === 'string' ? this.byTitle.get(titleKey(entry.title)) : undefined);
    if (!rule || rule.action === 'keep') return entry;
    // A dropped value stays an entry without a value: that the field exists is no personal data.
    if (rule.action === 'drop') return { ...entry, value: null };
    return { ...entry, value: this.act(entry.value, rule.action, rule.kind) };
  }
}

/** How custom field titles are compared. */
export function titleKey(title: string): string {
  return title.trim().replace(/\s+/g, ' ').toLowerCase();
}
