import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_SCOPES,
  describeScope,
  ENDPOINTS,
  type EndpointSpec,
  findEndpoint,
  type Scope,
} from '../../src/ashby/catalogue.js';
import { loadSpec } from '../support/openapi.js';

const loaded = loadSpec();
const endpoints = ENDPOINTS as readonly EndpointSpec[];

interface Operation {
  summary?: string;
  description?: string;
  requestBody?: { content?: Record<string, { schema?: unknown }> };
}
type Spec = { paths: Record<string, { post: Operation }> };
const spec: Spec | undefined = loaded.available
  ? (JSON.parse(readFileSync(loaded.specPath, 'utf8')) as Spec)
  : undefined;

/**
 * The spec carries each operation's permission only in prose: its `description` ends with
 * "**Requires the [`candidatesRead`](authentication#…) permission.**" (the TSV beside the spec was derived
 * the same way). Partner-implemented assessment operations have no such sentence.
 */
function permissionOf(op: Operation): string | undefined {
  return /Requires the \[?`(\w+)`/.exec(op.description ?? '')?.[1];
}

/** The spec's own typo, `candidateWrite` on application.addHiringTeamMember, means candidatesWrite. */
const SPEC_TYPOS: Record<string, Scope> = { candidateWrite: 'candidatesWrite' };

function resolve(root: unknown, ref: string): unknown {
  let node = root;
  for (const raw of ref.replace(/^#\//, '').split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = (node as Record<string, unknown> | undefined)?.[key];
  }
  return node;
}

/** Every property name a request schema accepts, following `$ref`, `allOf`, `anyOf` and `oneOf`. */
function requestProperties(root: unknown, schema: unknown, seen = new Set<unknown>()): Set<string> {
  const out = new Set<string>();
  if (typeof schema !== 'object' || schema === null || seen.has(schema)) return out;
  seen.add(schema);
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === 'string') {
    for (const p of requestProperties(root, resolve(root, s.$ref), seen)) out.add(p);
  }
  if (typeof s.properties === 'object' && s.properties !== null) {
    for (const p of Object.keys(s.properties)) out.add(p);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const parts = s[key];
    if (Array.isArray(parts)) {
      for (const part of parts) for (const p of requestProperties(root, part, seen)) out.add(p);
    }
  }
  return out;
}

describe.skipIf(!spec)('catalogue against the Nov 2024 spec', () => {
  const paths = Object.entries(spec?.paths ?? {});

  it('reads every path of the spec (sanity: the spec is the 112-path copy)', () => {
    expect(paths.length).toBe(112);
  });

  it('knows every path of the spec by name or alias, as a 2024 endpoint', () => {
    const missing = paths.map(([p]) => p.slice(1)).filter((name) => !findEndpoint(name));
    expect(missing).toEqual([]);
    const misdated = paths
      .map(([p]) => findEndpoint(p.slice(1)))
      .filter((e) => e && e.since !== '2024-11')
      .map((e) => e?.name);
    expect(misdated).toEqual([]);
  });

  it('requires the same permission as the spec, and the matching access', () => {
    const mismatches: string[] = [];
    for (const [p, item] of paths) {
      const e = findEndpoint(p.slice(1));
      if (!e) continue;
      const raw = permissionOf(item.post);
      if (raw === undefined) {
        // Only the partner-implemented assessment operations carry no permission.
        if (e.implementedBy !== 'partner' || e.scope !== null) mismatches.push(`${p}: no permission in spec`);
        continue;
      }
      const expected = SPEC_TYPOS[raw] ?? raw;
      if (e.scope !== expected) mismatches.push(`${p}: spec ${expected}, catalogue ${e.scope}`);
      const access = expected.endsWith('Write') ? 'write' : 'read';
      if (e.access !== access) mismatches.push(`${p}: spec access ${access}, catalogue ${e.access}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('marks paginated / incremental exactly where the 2024 request schema has cursor / syncToken', () => {
    const mismatches: string[] = [];
    for (const [p, item] of paths) {
      const e = findEndpoint(p.slice(1));
      if (!e) continue;
      const props = requestProperties(spec, item.post.requestBody?.content?.['application/json']?.schema);
      if (e.paginated !== props.has('cursor'))
        mismatches.push(`${p}: cursor ${props.has('cursor')}, paginated ${e.paginated}`);
      if (e.incremental !== props.has('syncToken'))
        mismatches.push(`${p}: syncToken ${props.has('syncToken')}, incremental ${e.incremental}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('dates every endpoint absent from the 2024 spec as a 2026 addition', () => {
    const inSpec = new Set(paths.map(([p]) => p.slice(1)));
    const wrong = endpoints
      .filter((e) => ![e.name, ...(e.aliases ?? [])].some((n) => inSpec.has(n)))
      .filter((e) => e.since !== '2026')
      .map((e) => e.name);
    expect(wrong).toEqual([]);
  });
});

describe('catalogue data', () => {
  it('has unique names and aliases', () => {
    const all = endpoints.flatMap((e) => [e.name, ...(e.aliases ?? [])]);
    expect(all.length).toBe(new Set(all).size);
  });

  it('uses only known scopes, each with an admin-facing module', () => {
    for (const e of endpoints) {
      if (e.scope === null) {
        expect(e.implementedBy).toBe('partner');
        continue;
      }
      expect(ALL_SCOPES).toContain(e.scope);
      expect(e.access).toBe(e.scope.endsWith('Write') ? 'write' : 'read');
    }
    for (const scope of ALL_SCOPES) expect(describeScope(scope).module).toEqual(expect.any(String));
    expect(describeScope('notetakerRead').label).toBe('Notetaker: Read');
  });

  it('retries no read unsafely and keeps creates non-retryable', () => {
    expect(endpoints.filter((e) => e.access === 'read' && !e.retrySafe).map((e) => e.name)).toEqual([]);
    const creates = endpoints.filter((e) => /\.create(Note)?$/.test(e.name) && e.retrySafe);
    expect(creates.map((e) => e.name)).toEqual([]);
  });

  it('records 2026 pagination of 2024 endpoints only where the 2024 contract lacked it', () => {
    const flagged = endpoints.filter((e) => e.paginatedSince2026 || e.incrementalSince2026);
    for (const e of flagged) {
      expect(e.since).toBe('2024-11');
      if (e.paginatedSince2026) expect(e.paginated).toBe(false);
      if (e.incrementalSince2026) expect(e.incremental).toBe(false);
    }
    for (const name of ['department.list', 'interviewPlan.list', 'interviewEvent.list']) {
      const e = findEndpoint(name);
      expect(e?.paginatedSince2026).toBe(true);
      expect(e?.incrementalSince2026).toBe(true);
    }
    // feedbackFormDefinition.list already took cursor and syncToken in 2024.
    const ffd = findEndpoint('feedbackFormDefinition.list');
    expect([ffd?.paginated, ffd?.incremental, ffd?.paginatedSince2026]).toEqual([true, true, undefined]);
  });

  it('has the 2026 additions with their permissions', () => {
    const expected: Record<string, [Scope, 'read' | 'write']> = {
      'candidate.addEmailMessage': ['candidatesWrite', 'write'],
      'candidate.listFraudChecks': ['candidatesRead', 'read'],
      'candidate.setFraudStatus': ['candidatesWrite', 'write'],
      'candidate.removeProject': ['candidatesWrite', 'write'],
      'candidateTag.archive': ['hiringProcessMetadataWrite', 'write'],
      'location.updateExternalName': ['organizationWrite', 'write'],
      'file.createFileUploadHandle': ['candidatesWrite', 'write'],
      'user.createInterviewerPause': ['organizationWrite', 'write'],
      'user.deleteInterviewerPause': ['organizationWrite', 'write'],
      'user.listInterviewerPauses': ['organizationRead', 'read'],
      'notetakerTranscript.info': ['notetakerRead', 'read'],
    };
    for (const [name, [scope, access]] of Object.entries(expected)) {
      const e = findEndpoint(name);
      expect({ name, scope: e?.scope, access: e?.access, since: e?.since }).toEqual({
        name,
        scope,
        access,
        since: '2026',
      });
    }
    expect(findEndpoint('candidate.listFraudChecks')?.paginated).toBe(true);
    expect(findEndpoint('candidate.listFraudChecks')?.incremental).toBe(false);
    expect(findEndpoint('user.createInterviewerPause')?.retrySafe).toBe(false);
  });
});
