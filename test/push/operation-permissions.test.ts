import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/push/operations/index.js';
import { operationInfos } from '../../src/server/wiring.js';
import type { ModulePermission } from '../../src/vault/types.js';
import { permissionWarnings } from '../../src/vault/verify.js';

/**
 * Every push operation with the permission Ashby documents for the endpoint it writes with (API-NOTES
 * "Endpoints with required permission", from the spec's "Requires the … permission"), written by hand.
 */
const DOCUMENTED: Record<string, { scope: string; permission: string }> = {
  'candidate.create': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'candidate.update': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'candidate.addTag': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'candidate.createNote': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'customField.setValue': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'application.create': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'application.changeStage': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'application.update': { scope: 'candidatesWrite', permission: 'Candidates: Write' },
  'job.create': { scope: 'jobsWrite', permission: 'Jobs: Write' },
  'job.update': { scope: 'jobsWrite', permission: 'Jobs: Write' },
  'opening.create': { scope: 'jobsWrite', permission: 'Jobs: Write' },
  'offerProcess.start': { scope: 'offersWrite', permission: 'Offers: Write' },
};

const MODULES: ModulePermission['module'][] = [
  'Candidates',
  'Jobs',
  'Interviews',
  'Offers',
  'Hiring Process',
  'Organization',
  'API Keys',
  'Approvals',
  'Reports',
];

describe('every push operation, with its Ashby permission, wherever operations are listed', () => {
  it('the documented list and the operations are the same twelve', () => {
    expect(OPERATIONS.map((o) => o.name).sort()).toEqual(Object.keys(DOCUMENTED).sort());
  });

  it("the console's operation list names each with the permission Ashby documents", () => {
    const listed = Object.fromEntries(
      operationInfos().map((o) => [
        o.name,
        { scope: o.scope, permission: o.permission, endpoint: o.endpoint },
      ]),
    );
    const expected = Object.fromEntries(
      Object.entries(DOCUMENTED).map(([name, p]) => [name, { ...p, endpoint: name }]),
    );
    expect(listed).toEqual(expected);
  });

  it("a read-only key's warnings name every operation under the permission it lacks", () => {
    const readOnly = MODULES.map((module) => ({ module, read: 'allowed', write: 'missing' }) as const);
    const warnings = permissionWarnings(readOnly);
    for (const [name, { scope, permission }] of Object.entries(DOCUMENTED)) {
      const title = OPERATIONS.find((o) => o.name === name)?.title;
      const line = warnings.find((w) => w.includes(`(${name})`));
      expect(line, name).toContain(`will fail: the key lacks ${permission} (${scope})`);
      expect(line, name).toContain(`${title} (${name})`);
    }
    // One warning per missing write permission: Candidates, Jobs, Offers.
    expect(warnings.filter((w) => w.startsWith('Push operations'))).toHaveLength(3);
  });

  it('a key that may write everything gets no push warning', () => {
    const full = MODULES.map((module) => ({ module, read: 'allowed', write: 'allowed' }) as const);
    expect(permissionWarnings(full).filter((w) => w.startsWith('Push operations'))).toEqual([]);
  });
});
