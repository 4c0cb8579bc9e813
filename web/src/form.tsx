import { useCallback, useEffect, useState } from 'react';
import { api } from './api';

/** The message of anything thrown, for an alert. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An error announced to screen readers; nothing when there is none. */
export function ErrorAlert(props: { error: string | undefined }) {
  if (!props.error) return null;
  return (
    <p className="error" role="alert">
      {props.error}
    </p>
  );
}

/** A required API key input: never auto-filled, never shown. */
export function ApiKeyField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <>
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="password"
        autoComplete="off"
        required
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
      />
    </>
  );
}

/** A credential's name (required) and description inputs, with ids `<idPrefix>-name` and `<idPrefix>-description`. */
export function NameDescriptionFields(props: {
  idPrefix: string;
  name: string;
  onName: (v: string) => void;
  description: string;
  onDescription: (v: string) => void;
}) {
  return (
    <>
      <label htmlFor={`${props.idPrefix}-name`}>Credential Name *</label>
      <input
        id={`${props.idPrefix}-name`}
        required
        value={props.name}
        onChange={(e) => props.onName(e.target.value)}
      />
      <label htmlFor={`${props.idPrefix}-description`}>Credential Description</label>
      <textarea
        id={`${props.idPrefix}-description`}
        value={props.description}
        onChange={(e) => props.onDescription(e.target.value)}
      />
    </>
  );
}

/**
 * A list fetched with GET `path` on mount and whenever `path` changes; `load` fetches it again. A failed
 * fetch keeps the previous list and reports its message through `onError`.
 */
export function useApiList<T, R>(
  path: string,
  pick: (response: R) => T[],
  onError: (message: string) => void,
): { items: T[]; load: () => Promise<void> } {
  const [items, setItems] = useState<T[]>([]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `pick` and `onError` are fixed per call site
  const load = useCallback(
    () =>
      api<R>('GET', path).then(
        (r) => setItems(pick(r)),
        (e: Error) => onError(e.message),
      ),
    [path],
  );
  useEffect(() => {
    void load();
  }, [load]);
  return { items, load };
}
