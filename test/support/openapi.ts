import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { findEndpoint } from '../../src/ashby/catalogue.js';

const addFormats = addFormatsImport as unknown as (ajv: Ajv2020) => void;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The five documented defects of the 2024 spec, normalised in one place and counted. */
export const NORMALISATIONS = [
  'date-or-date-time',
  'type-enum',
  'oneOf-to-anyOf',
  'misplaced-required',
  'currency-format',
] as const;
export type Normalisation = (typeof NORMALISATIONS)[number];
export const normalisationCounts: Record<Normalisation, number> = {
  'date-or-date-time': 0,
  'type-enum': 0,
  'oneOf-to-anyOf': 0,
  'misplaced-required': 0,
  'currency-format': 0,
};

export interface LoadedSpec {
  available: boolean;
  specPath: string;
  validateRequest(endpoint: string, body: unknown): string[];
  validateResponse(endpoint: string, body: unknown): string[];
  /**
   * The request body's documented top-level parameters (through `$ref`, `allOf`, `anyOf`), an empty set
   * when the endpoint documents no request body, `undefined` when the endpoint is not in the spec.
   */
  requestParameters(endpoint: string): ReadonlySet<string> | undefined;
  /** Validates against a schema written out in a test; it may `$ref` into the spec (`ashby#/paths/…`). */
  validateAgainst(schema: object, body: unknown): string[];
  /** The top-level parameters of such a schema, as {@link requestParameters}. */
  parametersOf(schema: object): ReadonlySet<string>;
}

function normalise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalise);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) out[k] = normalise(v);
  if (out.format === 'date') {
    out.format = 'date-or-date-time';
    normalisationCounts['date-or-date-time']++;
  }
  if (out.type === 'enum') {
    delete out.type;
    normalisationCounts['type-enum']++;
  }
  if (Array.isArray(out.oneOf)) {
    out.anyOf = out.oneOf;
    delete out.oneOf;
    normalisationCounts['oneOf-to-anyOf']++;
  }
  if (out.format === 'currency') normalisationCounts['currency-format']++;
  const props = out.properties as Record<string, unknown> | undefined;
  if (props && Array.isArray(props.required)) {
    out.required = props.required;
    delete props.required;
    normalisationCounts['misplaced-required']++;
  }
  if (typeof out.$ref === 'string' && out.$ref.includes('/oneOf/'))
    out.$ref = out.$ref.replaceAll('/oneOf/', '/anyOf/');
  return out;
}

function pointer(p: string): string {
  return p.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Loads the official 2024 spec (ASHBY_OPENAPI_SPEC or the shared reference folder beside the repo). */
export function loadSpec(): LoadedSpec {
  const specPath =
    process.env.ASHBY_OPENAPI_SPEC ??
    path.resolve(REPO_ROOT, '..', 'shared', 'ashby-reference', 'ashby-openapi-2024-11.json');
  if (!existsSync(specPath)) {
    if (process.env.REQUIRE_SPEC === '1')
      throw new Error(`REQUIRE_SPEC=1 but the OpenAPI spec is missing at ${specPath}`);
    console.warn(
      `[openapi] spec not found at ${specPath}: spec-based tests are SKIPPED (set ASHBY_OPENAPI_SPEC)`,
    );
    const none = () => ['spec unavailable'];
    return {
      available: false,
      specPath,
      validateRequest: none,
      validateResponse: none,
      requestParameters: () => undefined,
      validateAgainst: none,
      parametersOf: () => new Set(),
    };
  }
  const raw = JSON.parse(readFileSync(specPath, 'utf8')) as { paths: Record<string, unknown> };
  const spec = normalise(raw) as { paths: Record<string, Record<string, unknown>> };
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('date-or-date-time', (s: string) =>
    /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/.test(s),
  );
  ajv.addFormat('currency', { type: 'number', validate: () => true });
  ajv.addSchema({ ...spec, $id: 'ashby' }, 'ashby');
  let compiled = 0;

  const pathOf = (endpoint: string): string | undefined => {
    const e = findEndpoint(endpoint);
    const names = e ? [e.name, ...(e.aliases ?? [])] : [endpoint];
    return names.map((n) => `/${n}`).find((p) => p in spec.paths);
  };
  const run = (ref: string, body: unknown): string[] => {
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    if (validate(body)) return [];
    return (validate.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
  };
  const errorsOf = (validate: ReturnType<Ajv2020['compile']>, body: unknown): string[] =>
    validate(body)
      ? []
      : (validate.errors ?? []).map(
          (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
        );
  const resolve = (ref: string): unknown => {
    let node: unknown = spec;
    for (const seg of ref.replace(/^(ashby)?#\//, '').split('/')) {
      node = (node as Record<string, unknown> | undefined)?.[seg.replaceAll('~1', '/').replaceAll('~0', '~')];
    }
    return node;
  };
  const parametersOf = (schema: unknown, seen = new Set<unknown>()): Set<string> => {
    const out = new Set<string>();
    if (typeof schema !== 'object' || schema === null || seen.has(schema)) return out;
    seen.add(schema);
    const node = schema as Record<string, unknown>;
    if (typeof node.$ref === 'string') for (const p of parametersOf(resolve(node.$ref), seen)) out.add(p);
    for (const k of ['allOf', 'anyOf', 'oneOf']) {
      const list = node[k];
      if (Array.isArray(list)) for (const sub of list) for (const p of parametersOf(sub, seen)) out.add(p);
    }
    const props = node.properties;
    if (typeof props === 'object' && props !== null) for (const p of Object.keys(props)) out.add(p);
    return out;
  };
  return {
    available: true,
    specPath,
    requestParameters(endpoint) {
      const p = pathOf(endpoint);
      if (!p) return undefined;
      const post = spec.paths[p]?.post as {
        requestBody?: { content?: Record<string, { schema?: unknown }> };
      };
      const schema = post?.requestBody?.content?.['application/json']?.schema;
      return schema === undefined ? new Set() : parametersOf(schema);
    },
    validateAgainst(schema, body) {
      return errorsOf(ajv.compile({ $id: `written-out-${compiled++}`, ...schema }), body);
    },
    parametersOf(schema) {
      return parametersOf(schema);
    },
    validateRequest(endpoint, body) {
      const p = pathOf(endpoint);
      if (!p) return [`endpoint ${endpoint} is not in the 2024 spec`];
      return run(`ashby#/paths/${pointer(p)}/post/requestBody/content/application~1json/schema`, body);
    },
    validateResponse(endpoint, body) {
      const p = pathOf(endpoint);
      if (!p) return [`endpoint ${endpoint} is not in the 2024 spec`];
      return run(`ashby#/paths/${pointer(p)}/post/responses/200/content/application~1json/schema`, body);
    },
  };
}
