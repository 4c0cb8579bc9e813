/**
 * Masking personal values quoted in messages of the push side: a reason such as "not a valid email
 * address: …" or an error Ashby returns may echo the input, and reasons go to the quarantine, the run
 * log and the results file, which keep no raw input.
 */
import { PUSH_PERSONAL_FIELDS } from './catalogue.js';
import { maskString } from './transform.js';
import type { PiiKind } from './types.js';

/** An email address inside free text (also one that is not valid, such as `a@b@example.com`). */
const EMAIL_IN_TEXT = /[^\s"'<>()[\]{},;:]*@[^\s"'<>()[\]{},;:]*[^\s"'<>()[\]{},;:.]/g;
/** Shorter values are not looked for: masking them would mangle ordinary words. */
const MIN_LENGTH = 3;

function stringsOf(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (value !== null && typeof value === 'object')
    for (const v of Object.values(value)) stringsOf(v, out);
}

/** The personal values of a push record (its fields named in {@link PUSH_PERSONAL_FIELDS}), with their kind. */
export function personalValuesOf(record: unknown): Array<{ value: string; kind: PiiKind }> {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return [];
  const found: Array<{ value: string; kind: PiiKind }> = [];
  for (const [field, value] of Object.entries(record)) {
    const kind = PUSH_PERSONAL_FIELDS[field];
    if (kind === undefined) continue;
    const strings: string[] = [];
    stringsOf(value, strings);
    for (const s of strings) {
      const trimmed = s.trim();
      if (trimmed.length >= MIN_LENGTH) found.push({ value: trimmed, kind });
      if (trimmed !== s && s.length >= MIN_LENGTH) found.push({ value: s, kind });
    }
  }
  return found;
}

/**
 * Masks the personal values a message quotes: each of `values` (the record's personal fields), then
 * every email address, with the catalogue's mask of their kind.
 * @example maskPersonalText('not a valid email address: "ada@@example.com"') // '… "***@example.com"'
 */
export function maskPersonalText(
  text: string,
  values: ReadonlyArray<{ value: string; kind: PiiKind }> = [],
): string {
  let masked = text;
  // The longest first, so that a value containing another is masked whole.
  for (const { value, kind } of [...values].sort((a, b) => b.value.length - a.value.length)) {
    if (masked.includes(value)) masked = masked.split(value).join(maskString(value, kind));
    const quoted = JSON.stringify(value).slice(1, -1);
    if (quoted !== value && masked.includes(quoted))
      masked = masked.split(quoted).join(maskString(value, kind));
  }
  return masked.replace(EMAIL_IN_TEXT, (address) =>
    address.startsWith('***@') ? address : maskString(address, 'email'),
  );
}
