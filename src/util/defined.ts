/** The keys of `T` whose value may be `undefined`. */
type MaybeUndefinedKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];

/**
 * `T` with the keys that may be `undefined` made optional and without `undefined`: what
 * `exactOptionalPropertyTypes` asks of an optional property.
 */
export type Defined<T> = {
  [K in Exclude<keyof T, MaybeUndefinedKeys<T>>]: T[K];
} & { [K in MaybeUndefinedKeys<T>]?: Exclude<T[K], undefined> };

/**
 * A copy of an object without its keys whose value is `undefined`, in the same order; other falsy values
 * (`null`, `0`, `''`, `false`) stay. Spread it where an optional property is set only when there is a
 * value.
 * @example { name, ...defined({ description: opts.description, baseUrl }) }
 *   // → { name } when both are undefined, { name, baseUrl } when only baseUrl is set
 */
export function defined<T extends object>(value: T): Defined<T> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as Defined<T>;
}
