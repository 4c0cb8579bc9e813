import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { CandidateSchema, JobSchema, RECORD_SCHEMAS, UserSchema } from '../../src/ashby/schemas.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const specPath =
  process.env.ASHBY_OPENAPI_SPEC ??
  path.resolve(repoRoot, '../shared/ashby-reference/ashby-openapi-2024-11.json');
const samplesPath = path.join(path.dirname(specPath), 'sample-responses-synthesized-2024-11.json');
const haveSamples = fs.existsSync(samplesPath);
if (!haveSamples) {
  console.warn(`[schemas.test] ${samplesPath} not found: skipping the sample-response checks`);
  if (process.env.REQUIRE_SPEC === '1') throw new Error(`REQUIRE_SPEC=1 but ${samplesPath} is missing`);
}

const candidate = {
  id: 'c1',
  name: 'Ada Lovelace',
  emailAddresses: [],
  phoneNumbers: [],
  socialLinks: [],
  tags: [],
  applicationIds: [],
  fileHandles: [],
  profileUrl: 'https://app.ashbyhq.com/candidates/c1',
  primaryEmailAddress: null,
};

describe('record schemas', () => {
  it('keep fields Ashby adds later, at the top level and nested', () => {
    const parsed = CandidateSchema.parse({
      ...candidate,
      fraudStatus: 'NotFlagged',
      tags: [{ id: 't', title: 'Senior', isArchived: false, color: 'blue' }],
    });
    expect(parsed).toMatchObject({ fraudStatus: 'NotFlagged' });
    expect(parsed.tags[0]).toMatchObject({ color: 'blue' });
  });

  it('accept null for optional fields, as Ashby sends them', () => {
    expect(CandidateSchema.safeParse(candidate).success).toBe(true);
  });

  it('reject a record missing a field the spec requires', () => {
    const { name: _name, ...withoutName } = candidate;
    expect(CandidateSchema.safeParse(withoutName).success).toBe(false);
    expect(
      UserSchema.safeParse({ id: 'u', firstName: 'A', lastName: 'B', globalRole: 'x', updatedAt: 'now' })
        .success,
    ).toBe(false);
  });

  it('enum-like fields accept values newer than the 2024 spec', () => {
    const job = {
      id: 'j',
      title: 'T',
      confidential: false,
      status: 'SomeNewStatus',
      employmentType: 'Seasonal',
      updatedAt: 'x',
    };
    expect(JobSchema.safeParse(job).success).toBe(true);
  });

  describe.skipIf(!haveSamples)('the spec’s sample responses', () => {
    const samples = haveSamples
      ? (JSON.parse(fs.readFileSync(samplesPath, 'utf8')) as Record<
          string,
          { response?: { results?: unknown } }
        >)
      : {};
    const cases = Object.entries(RECORD_SCHEMAS).filter(([endpoint]) => samples[endpoint]?.response?.results);
    it.each(cases)('%s parses, losing nothing', (endpoint, schema) => {
      const results = samples[endpoint]?.response?.results;
      const records = Array.isArray(results) ? results : [results];
      expect(records.length).toBeGreaterThan(0);
      for (const record of records) {
        const parsed = (schema as z.ZodTypeAny).parse(record);
        expect(parsed).toEqual(record);
      }
    });
    it('covers the main record types', () => {
      expect(cases.map(([e]) => e)).toEqual(
        expect.arrayContaining([
          'candidate.list',
          'application.list',
          'job.list',
          'offer.list',
          'interviewSchedule.list',
        ]),
      );
    });
  });
});
