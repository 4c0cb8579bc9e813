/**
 * Custom fields as real accounts send them: the definition's settings (`customField.list`) and the value
 * entries on records (`customFields`, an offer's `latestVersion.customFields`, a project's
 * `customFieldEntries`). Shapes from the 2026 spec (`customField.info`, `customField.setValue` results)
 * and the fields Airbyte's Ashby source declares (`referenceIdentifier`, `isEditableOnlyViaPublicApi`).
 */

/** One custom field definition of the sandbox organisation. */
export interface CustomFieldDef {
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

/**
 * The identifier templates and integrations refer to a field by: its title in snake case, or
 * `custom_field_<n>` when the title has no letters or digits to make one from.
 */
export function referenceIdentifier(def: Pick<CustomFieldDef, 'title'>, index: number): string {
  const slug = def.title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return slug === '' ? `custom_field_${index}` : slug;
}

/** The settings a definition carries besides id, title, types and selectable values. */
export function definitionDetails(def: CustomFieldDef, index: number): Record<string, unknown> {
  return {
    description: def.archived ? 'Replaced by "Seniority".' : `${def.objectType} field: ${def.title.trim()}`,
    isPrivate: def.private === true,
    isRequired: def.required === true,
    isEditableOnlyViaPublicApi: def.apiOnly === true,
    referenceIdentifier: referenceIdentifier(def, index),
    ...(def.fieldType === 'Date' ? { isDateOnlyField: index % 2 === 0 } : {}),
  };
}

/**
 * A value entry as records carry it. `valueLabel` is present for select fields only (the option's label,
 * or the labels of a multi-select); `labelOf` maps an option's value to its label.
 */
export function valueEntry(
  id: string,
  def: CustomFieldDef,
  index: number,
  value: unknown,
  labelOf: (value: string) => string = (v) => v,
): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    id,
    title: def.title,
    value,
    isPrivate: def.private === true,
    referenceIdentifier: referenceIdentifier(def, index),
  };
  if (def.fieldType === 'ValueSelect' && typeof value === 'string') entry.valueLabel = labelOf(value);
  if (def.fieldType === 'MultiValueSelect' && Array.isArray(value)) {
    entry.valueLabel = value.map((v) => labelOf(String(v)));
  }
  return entry;
}
