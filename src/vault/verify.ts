import { type AshbyModule, describeScope, findEndpoint, type Scope } from '../ashby/catalogue.js';
import type { AshbyClient } from '../ashby/client.js';
import { AshbyAuthError, AshbyError, AshbyPermissionError } from '../ashby/errors.js';
import { WRITE_OPERATIONS } from '../push/operations/index.js';
import { defined } from '../util/defined.js';
import { redact } from '../util/redact.js';
import type { Access, ConfidentialAccess, ModulePermission, Verification } from './types.js';

/** Modules in the order Ashby's API key screen lists them, each with its cheapest read (none for Reports). */
export const MODULE_PROBES: ReadonlyArray<{
  module: AshbyModule;
  probe: string | undefined;
  scopeKey: string;
}> = [
  { module: 'Candidates', probe: 'candidate.list', scopeKey: 'candidates' },
  { module: 'Jobs', probe: 'job.list', scopeKey: 'jobs' },
  { module: 'Interviews', probe: 'interviewPlan.list', scopeKey: 'interviews' },
  { module: 'Offers', probe: 'offer.list', scopeKey: 'offers' },
  { module: 'Hiring Process', probe: 'source.list', scopeKey: 'hiringprocessmetadata' },
  { module: 'Organization', probe: 'user.list', scopeKey: 'organization' },
  { module: 'API Keys', probe: 'apiKey.info', scopeKey: 'apikeys' },
  { module: 'Approvals', probe: 'approval.list', scopeKey: 'approvals' },
  { module: 'Reports', probe: undefined, scopeKey: 'reports' },
];

/** Options of {@link verifyKey}. */
export interface VerifyOptions {
  /**
   * Pages of `job.list` scanned for a confidential job (100 jobs a page) before answering "unknown".
   * @default 3
   * @example 1
   */
  confidentialPages?: number;
  /** Aborts the probes. */
  signal?: AbortSignal;
  /** Clock for `verifiedAt` (tests). @default () => new Date() */
  now?: () => Date;
}

const normaliseModuleKey = (s: string) => s.toLowerCase().replace(/[^a-z]/g, '');

/** Maps `apiKey.info` scopes (`candidates:read`, `hiringProcessMetadata:write`, …) to module access. */
export function permissionsFromScopes(scopes: readonly string[]): ModulePermission[] {
  const granted = new Set<string>();
  for (const scope of scopes) {
    const [module = '', access = ''] = scope.split(/[:.]/);
    granted.add(`${normaliseModuleKey(module)}:${access.toLowerCase()}`);
  }
  return MODULE_PROBES.map(({ module, scopeKey }) => ({
    module,
    read: granted.has(`${scopeKey}:read`) ? 'allowed' : 'missing',
    write: granted.has(`${scopeKey}:write`) ? 'allowed' : 'missing',
  }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type ProbeResult = { access: Access; error?: string; results?: unknown };

class InvalidKey extends Error {}

async function probe(
  client: AshbyClient,
  endpoint: string,
  signal: AbortSignal | undefined,
): Promise<ProbeResult> {
  const body = findEndpoint(endpoint)?.paginated ? { limit: 1 } : {};
  try {
    const result = await client.call(endpoint, body, signal ? { signal } : {});
    return { access: 'allowed', results: result.results };
  } catch (error) {
    if (error instanceof AshbyAuthError) throw new InvalidKey(error.message);
    if (error instanceof AshbyPermissionError) return { access: 'missing' };
    if (error instanceof AshbyError) return { access: 'error', error: error.message };
    throw error;
  }
}

/** Scans a few pages of `job.list` for a confidential job; absence proves nothing. */
async function findConfidential(
  client: AshbyClient,
  pages: number,
  signal: AbortSignal | undefined,
): Promise<ConfidentialAccess> {
  try {
    for await (const page of client.pages('job.list', {}, signal ? { signal } : {})) {
      if (page.results.some((job) => isRecord(job) && job.confidential === true)) return 'yes';
      if (page.pageNumber >= pages) break;
    }
  } catch (error) {
    if (error instanceof AshbyAuthError) throw new InvalidKey(error.message);
    if (!(error instanceof AshbyError)) throw error;
  }
  return 'unknown';
}

/** A confidential-access flag in `apiKey.info`, should Ashby report one (not in the 2024 spec). */
function confidentialFromInfo(info: Record<string, unknown>): ConfidentialAccess | undefined {
  for (const [field, value] of Object.entries(info)) {
    if (/confidential/i.test(field) && typeof value === 'boolean') return value ? 'yes' : 'no';
  }
  return undefined;
}

/** Warnings an admin can act on: modules the key cannot read, and push operations that will or may fail. */
export function permissionWarnings(permissions: readonly ModulePermission[]): string[] {
  const warnings: string[] = [];
  const byModule = new Map(permissions.map((p) => [p.module, p]));
  const unreadable = permissions.filter((p) => p.read === 'missing').map((p) => p.module);
  const readable = permissions.some((p) => p.read === 'allowed');
  if (!readable && permissions.some((p) => p.read === 'missing')) {
    warnings.push(
      'The key may read no module: a sync would read nothing. Grant the read permissions of the modules to sync (Admin > Integrations > API Keys).',
    );
  }
  if (readable && unreadable.length > 0) {
    warnings.push(
      `No read access to ${unreadable.join(', ')}: streams from ${unreadable.length === 1 ? 'this module' : 'these modules'} will be skipped.`,
    );
  }
  // One warning per missing write scope, listing the operations that need it.
  const groups = new Map<Scope, { access: Access; ops: string[] }>();
  for (const { name, title, scope } of WRITE_OPERATIONS) {
    const access = byModule.get(describeScope(scope).module)?.write ?? 'unknown';
    if (access === 'allowed') continue;
    const group = groups.get(scope) ?? { access, ops: [] };
    group.ops.push(`${title} (${name})`);
    groups.set(scope, group);
  }
  for (const [scope, { access, ops }] of groups) {
    const { label } = describeScope(scope);
    const verdict =
      access === 'missing'
        ? `will fail: the key lacks ${label} (${scope})`
        : `may fail: ${label} (${scope}) cannot be checked without changing data`;
    warnings.push(
      `Push operations that ${verdict}: ${ops.join(', ')}. To push, re-issue the key with ${label} (Admin > Integrations > API Keys).`,
    );
  }
  return warnings;
}

/**
 * Verifies an API key: `apiKey.info` when the key may call it (title, and scopes on newer Ashby),
 * otherwise the cheapest read of each module (`limit: 1`). A 401/403 authentication error stops
 * verification with status `invalid`. Probes are ordinary traffic through the client's shared limiter.
 * @example const v = await verifyKey(new AshbyClient({ apiKey }));
 */
export async function verifyKey(client: AshbyClient, options: VerifyOptions = {}): Promise<Verification> {
  const verifiedAt = (options.now ?? (() => new Date()))().toISOString();
  const signal = options.signal;
  const base = { verifiedAt, warnings: [] as string[] };
  try {
    const info = await probe(client, 'apiKey.info', signal);
    const infoRecord = isRecord(info.results) ? info.results : undefined;
    const title = typeof infoRecord?.title === 'string' ? infoRecord.title : undefined;
    const scopes =
      Array.isArray(infoRecord?.scopes) && infoRecord.scopes.every((s) => typeof s === 'string')
        ? (infoRecord.scopes as string[])
        : undefined;

    let permissions: ModulePermission[];
    if (scopes) {
      permissions = permissionsFromScopes(scopes);
    } else {
      permissions = [];
      for (const { module, probe: endpoint } of MODULE_PROBES) {
        const result: ProbeResult =
          endpoint === undefined
            ? { access: 'unknown' }
            : endpoint === 'apiKey.info'
              ? info
              : await probe(client, endpoint, signal);
        permissions.push({
          module,
          read: result.access,
          write: 'unknown',
          ...defined({ readError: result.error }),
        });
      }
    }

    let confidential: ConfidentialAccess = (infoRecord && confidentialFromInfo(infoRecord)) ?? 'unknown';
    const jobsReadable = permissions.find((p) => p.module === 'Jobs')?.read === 'allowed';
    if (confidential === 'unknown' && jobsReadable) {
      confidential = await findConfidential(client, options.confidentialPages ?? 3, signal);
    }

    const probed = permissions.filter((p) => p.read !== 'unknown');
    if (probed.length > 0 && probed.every((p) => p.read === 'error')) {
      return {
        ...base,
        status: 'error',
        permissions,
        confidential,
        message: redact(probed[0]?.readError ?? 'every probe failed'),
      };
    }
    return {
      ...base,
      status: 'valid',
      ...defined({ title, scopes }),
      permissions,
      confidential,
      warnings: permissionWarnings(permissions),
    };
  } catch (error) {
    if (!(error instanceof InvalidKey)) throw error;
    return {
      ...base,
      status: 'invalid',
      permissions: MODULE_PROBES.map(({ module }) => ({ module, read: 'unknown', write: 'unknown' })),
      confidential: 'unknown',
      message: redact(`Ashby refused the key (missing, wrong or deactivated): ${error.message}`),
    };
  }
}
