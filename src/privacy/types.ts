/** What a policy does with a field. */
export type PiiAction = 'keep' | 'hash' | 'mask' | 'drop';

/** Every action, in the order people read them. */
export const PII_ACTIONS: readonly PiiAction[] = ['keep', 'hash', 'mask', 'drop'];

/**
 * What a value is, which decides how `mask` shortens it and how `hash` normalises it first (an email
 * address hashes the same in any letter case, a phone number in any punctuation).
 */
export type PiiKind = 'email' | 'phone' | 'name' | 'url' | 'location' | 'ip' | 'file' | 'money' | 'text';

/** Every kind. */
export const PII_KINDS: readonly PiiKind[] = [
  'email',
  'phone',
  'name',
  'url',
  'location',
  'ip',
  'file',
  'money',
  'text',
];

/** One field rule of a policy. */
export interface FieldRule {
  /** Where the field is in the stream's records (`a.b`, `a[].b`, `a.*`). */
  path: string;
  action: PiiAction;
  kind: PiiKind;
}

/** A custom field marked personal, by its id or its title (titles compare without case and spaces around). */
export interface CustomFieldRule {
  id?: string;
  title?: string;
  action: PiiAction;
  kind: PiiKind;
}

/** A resolved policy: what to do with which field of which stream. */
export interface PiiPolicy {
  /**
   * Where the policy came from, for messages.
   * @example 'default'
   * @example './pii.yaml'
   */
  source: string;
  /** Rules per stream name. */
  streams: Readonly<Record<string, readonly FieldRule[]>>;
  customFields: readonly CustomFieldRule[];
}
