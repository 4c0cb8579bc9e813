/**
 * The control run of the canary: the redaction functions are replaced by no-ops (below) and the canary
 * scenario runs again; every section must now leak the key. A section that still passes would show only
 * that the key is never emitted there, not that redaction keeps it out, and this test names it.
 */
import { vi } from 'vitest';
import { canaryScenario } from './canary-scenario.js';

vi.mock('../../src/util/redact.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/util/redact.js')>();
  return {
    ...actual,
    redact: (text: string) => text,
    redactDeep: <T>(value: T) => value,
    safeStringify: (value: unknown, space?: number) => JSON.stringify(value, null, space) ?? 'null',
  };
});

canaryScenario('unredacted');
