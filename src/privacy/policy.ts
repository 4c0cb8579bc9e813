/**
 * Policies: `none`, `default` (the shipped catalogue) or a file (YAML or JSON) that extends one of them.
 * A file's mistakes are reported with the file, the line and the path of the offending entry.
 *
 * ```yaml
 * extends: default          # or none
 * streams:
 *   candidates:
 *     name: keep             # overrides the catalogue
 *     company: mask
 *     school: { action: hash, kind: text }
 * customFields:
 *   - title: Date of birth
 *     action: drop
 * ```
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { findStream, selectStreams } from '../streams/index.js';
import { closest } from '../util/similar.js';
import { DEFAULT_CATALOGUE } from './catalogue.js';
import {
  type CustomFieldRule,
  type FieldRule,
  PII_ACTIONS,
  PII_KINDS,
  type PiiAction,
  type PiiKind,
  type PiiPolicy,
} from './types.js';

/** A policy file that cannot be used; the message names the file, the line and what is wrong. */
export class PiiPolicyError extends Error {
  override name = 'PiiPolicyError';
}

/** The policy that changes nothing. */
export const NO_POLICY: PiiPolicy = { source: 'none', streams: {}, customFields: [] };

/** The shipped catalogue as a policy. */
export function defaultPolicy(): PiiPolicy {
  const streams: Record<string, FieldRule[]> = {};
  for (const e of DEFAULT_CATALOGUE) {
    const list = streams[e.stream] ?? [];
    list.push({ path: e.path, action: e.action, kind: e.kind });
    streams[e.stream] = list;
  }
  return { source: 'default', streams, customFields: [] };
}

/** The kind a field's name suggests, when a rule does not say. */
export function inferKind(path: string): PiiKind {
  const last = path.toLowerCase();
  if (last.includes('email')) return 'email';
  if (last.includes('phone')) return 'phone';
  if (/ip(address)?$/.test(last)) return 'ip';
  if (last.includes('url') || last.includes('link')) return 'url';
  if (last.includes('location') || last.includes('address')) return 'location';
  if (last.includes('salary') || last.includes('compensation')) return 'money';
  if (last.includes('file')) return 'file';
  if (/name$/.test(last)) return 'name';
  return 'text';
}

const PATH = /^(?:[A-Za-z0-9_$-]+(?:\[\])?|\*)(?:\.(?:[A-Za-z0-9_$-]+(?:\[\])?|\*))*$/;
const TOP_KEYS = ['extends', 'streams', 'customFields'];

type Path = ReadonlyArray<string | number>;

/** Reads a policy file; throws {@link PiiPolicyError} naming the file, line and path of a mistake. */
export function loadPolicyFile(file: string): PiiPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PiiPolicyError(
      `${file}: cannot read the PII policy (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  return parsePolicy(text, file);
}

/** Parses a policy's text (YAML, of which JSON is a part); `file` names it in messages. */
/**
 * A policy given as a document rather than a file (`options.piiPolicy` of a server flow: the file's
 * content as JSON). Its mistakes are named by `where` and the path inside it, without a line.
 * @example parsePolicyDocument({ extends: 'default', streams: { candidates: { name: 'mask' } } }, 'options.piiPolicy')
 * @throws PiiPolicyError `options.piiPolicy: streams.candidates.name: unknown action "scramble" (…)`
 */
export function parsePolicyDocument(document: unknown, where: string): PiiPolicy {
  if (document === null || typeof document !== 'object' || Array.isArray(document))
    throw new PiiPolicyError(
      `${where}: expected none, default or a policy document (an object with extends, streams and customFields)`,
    );
  try {
    return parsePolicy(JSON.stringify(document, null, 2), where);
  } catch (error) {
    if (!(error instanceof PiiPolicyError) || !error.message.startsWith(`${where}:`)) throw error;
    // The line is the line of our own rendering of the document: meaningless to whoever sent it.
    throw new PiiPolicyError(`${where}:${error.message.slice(where.length + 1).replace(/^\d+:/, '')}`);
  }
}

export function parsePolicy(text: string, file: string): PiiPolicy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0].line;
    throw new PiiPolicyError(
      `${file}${line ? `:${line}` : ''}: not valid YAML or JSON: ${first.message.split('\n')[0]}`,
    );
  }
  const fail = (path: Path, problem: string): never => {
    const range = rangeOf(doc.contents, path);
    const line = range?.[0] !== undefined ? lineCounter.linePos(range[0]).line : undefined;
    const where = path.length > 0 ? ` ${path.join('.')}:` : '';
    throw new PiiPolicyError(`${file}${line ? `:${line}` : ''}:${where} ${problem}`);
  };
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) return fail([], 'the policy is empty');
  if (!isMap(doc.contents) || typeof root !== 'object' || Array.isArray(root))
    return fail([], 'expected a mapping with extends, streams and customFields');
  const top = root as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_KEYS.includes(key)) {
      const hint = closest(key, TOP_KEYS)[0];
      fail([key], `unknown key${hint ? ` (did you mean ${hint}?)` : ` (expected ${TOP_KEYS.join(', ')})`}`);
    }
  }
  const base = top.extends ?? 'default';
  if (base !== 'default' && base !== 'none') fail(['extends'], 'expected default or none');
  const streams: Record<string, FieldRule[]> = {};
  const basePolicy = base === 'default' ? defaultPolicy() : NO_POLICY;
  for (const [name, rules] of Object.entries(basePolicy.streams)) streams[name] = [...rules];
  if (top.streams !== undefined) {
    if (!isMap(doc.get('streams', true))) fail(['streams'], 'expected a mapping of stream names to fields');
    const known = selectStreams({ streams: ['all'] }).map((s) => s.name);
    for (const [stream, fields] of Object.entries(top.streams as Record<string, unknown>)) {
      if (!findStream(stream)) {
        const hint = closest(stream, known)[0];
        fail(['streams', stream], `unknown stream${hint ? ` (did you mean ${hint}?)` : ''}`);
      }
      if (fields === null || typeof fields !== 'object' || Array.isArray(fields))
        fail(['streams', stream], 'expected a mapping of field paths to actions');
      const list = streams[stream] ?? [];
      for (const [path, value] of Object.entries(fields as Record<string, unknown>)) {
        const at = ['streams', stream, path];
        if (!PATH.test(path))
          fail(
            at,
            'not a field path (use a.b for a nested field, a[].b for each element, a.* for every key)',
          );
        const { action, kind } = actionOf(value, path, at, fail);
        const rule: FieldRule = { path, action, kind };
        const same = list.findIndex((r) => r.path === path);
        if (same >= 0) list[same] = rule;
        else list.push(rule);
      }
      streams[stream] = list;
    }
  }
  const customFields: CustomFieldRule[] = [];
  if (top.customFields !== undefined) {
    if (!isSeq(doc.get('customFields', true)))
      fail(['customFields'], 'expected a list of { id or title, action }');
    (top.customFields as unknown[]).forEach((item, i) => {
      const at = ['customFields', i];
      if (item === null || typeof item !== 'object' || Array.isArray(item))
        fail(at, 'expected { id or title, action, kind }');
      const { id, title, ...rest } = item as Record<string, unknown>;
      if (id === undefined && title === undefined) fail(at, 'needs an id or a title');
      if (id !== undefined && typeof id !== 'string') fail([...at, 'id'], 'expected a string');
      if (title !== undefined && typeof title !== 'string') fail([...at, 'title'], 'expected a string');
      for (const key of Object.keys(rest))
        if (key !== 'action' && key !== 'kind')
          fail([...at, key], 'unknown key (expected id, title, action, kind)');
      const { action, kind } = actionOf(rest, typeof title === 'string' ? title : '', at, fail);
      customFields.push({
        ...(typeof id === 'string' ? { id } : {}),
        ...(typeof title === 'string' ? { title } : {}),
        action,
        kind,
      });
    });
  }
  return { source: file, streams, customFields };
}

/** Where the entry at `path` starts: the key of a mapping's entry (the line that names it), an item of a list. */
function rangeOf(root: unknown, path: Path): readonly number[] | undefined {
  let node: unknown = root;
  let range = (node as { range?: number[] } | null)?.range;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) break;
      range = (pair.key as { range?: number[] }).range ?? range;
      node = pair.value;
    } else if (isSeq(node) && typeof step === 'number') {
      node = node.items[step];
      range = (node as { range?: number[] } | null)?.range ?? range;
    } else break;
  }
  return range;
}

function actionOf(
  value: unknown,
  path: string,
  at: Path,
  fail: (path: Path, problem: string) => never,
): { action: PiiAction; kind: PiiKind } {
  const expected = `expected one of ${PII_ACTIONS.join(', ')}`;
  if (typeof value === 'string') {
    if (!(PII_ACTIONS as readonly string[]).includes(value))
      fail(at, `unknown action "${value}" (${expected})`);
    return { action: value as PiiAction, kind: inferKind(path) };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return fail(at, `${expected}, or { action, kind }`);
  const { action, kind, ...rest } = value as Record<string, unknown>;
  for (const key of Object.keys(rest)) fail([...at, key], 'unknown key (expected action, kind)');
  if (typeof action !== 'string' || !(PII_ACTIONS as readonly string[]).includes(action))
    fail(
      [...at, 'action'],
      action === undefined ? `missing (${expected})` : `unknown action "${String(action)}" (${expected})`,
    );
  if (kind !== undefined && (typeof kind !== 'string' || !(PII_KINDS as readonly string[]).includes(kind)))
    fail([...at, 'kind'], `unknown kind "${String(kind)}" (expected one of ${PII_KINDS.join(', ')})`);
  return { action: action as PiiAction, kind: (kind as PiiKind | undefined) ?? inferKind(path) };
}

/** A stable text of what the policy does (for its fingerprint): rules sorted, sources left out. */
export function canonicalPolicy(policy: PiiPolicy): string {
  const streams = Object.entries(policy.streams)
    .map(([name, rules]): [string, string[]] => [
      name,
      rules
        .filter((r) => r.action !== 'keep')
        .map((r) => `${r.path}=${r.action}/${r.kind}`)
        .sort(),
    ])
    .filter(([, rules]) => rules.length > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  const custom = policy.customFields
    .filter((r) => r.action !== 'keep')
    .map((r) => `${r.id ?? ''}|${r.title ?? ''}=${r.action}/${r.kind}`)
    .sort();
  return JSON.stringify({ streams, custom });
}

/** Whether the policy changes nothing. */
export function isEmptyPolicy(policy: PiiPolicy): boolean {
  return canonicalPolicy(policy) === canonicalPolicy(NO_POLICY);
}

/** Whether any rule hashes (the policy then needs the hash key). */
export function policyHashes(policy: PiiPolicy): boolean {
  return (
    Object.values(policy.streams).some((rules) => rules.some((r) => r.action === 'hash')) ||
    policy.customFields.some((r) => r.action === 'hash')
  );
}
