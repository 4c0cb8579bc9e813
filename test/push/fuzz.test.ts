/**
 * 1,000 generated malformed records (seeded): each is either quarantined with a reason or applied, the
 * push never crashes, and the counts add up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Control } from '../../src/control/open.js';
import { type RecordResult, runPush } from '../../src/push/engine.js';
import { readInput } from '../../src/push/input.js';
import { getQuarantine } from '../../src/push/ledger.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { fixtures, openHomeControl, operation, prng, removeAll, sandboxClient, tempDir } from './helpers.js';

const random = prng(20_251_129);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

const JUNK: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1e308,
  Number.MAX_SAFE_INTEGER,
  '',
  '   ',
  [],
  [1, 'two', null],
  {},
  { nested: { deeper: [{ x: null }, 'y'] } },
  'x'.repeat(100_000),
  '🙂🙃 emoji',
  'עברית RTL',
  'zero\u200bwidth',
  'nul\u0000byte',
  '<script>alert(1)</script>',
  "Robert'); DROP TABLE candidates;--",
  '1;2;3',
  'a,b|c',
  '{"half": ',
  '[1, 2',
];
const BAD_EMAILS = ['a@', '@b.co', 'a b@c.de', 'x@y', 'no-at-sign', 'a@@b.co', 'ü@', 42, ['a@b.co']];
const BAD_URLS = ['javascript:alert(1)', 'ftp://example.com', 'http://', 'not a url', 'example.com', 12];
const BAD_UUIDS = [
  '123',
  'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
  '3ae2b80119f641efad28214bd731948f',
  '00000000-0000-4000-8000-000000000000', // well formed, but nothing has it: Ashby answers *_not_found
  { id: 'x' },
];
const EVIL_KEYS = [
  '__proto__.polluted',
  'constructor.prototype.polluted',
  'location.__proto__.polluted',
  'unknownField',
];

let serial = 0;
function mutate(record: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...record };
  const n = 1 + Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    const field = pick(fields);
    switch (Math.floor(random() * 8)) {
      case 0:
        delete out[field];
        break;
      case 1:
        out[field] = pick(JUNK);
        break;
      case 2:
        out[field] = pick(BAD_EMAILS);
        break;
      case 3:
        out[field] = pick(BAD_URLS);
        break;
      case 4:
        out[field] = pick(BAD_UUIDS);
        break;
      case 5:
        out[pick(EVIL_KEYS)] = pick(JUNK);
        break;
      case 6:
        // A scalar and a nested path for the same field.
        out[`${field}.inner`] = 'nested';
        break;
      default:
        // Left valid: some records must get through.
        break;
    }
  }
  return out;
}

interface Case {
  operation: string;
  records: Array<Record<string, unknown>>;
  /** Raw lines that are not JSON objects at all. */
  brokenLines: string[];
}

let sandbox: Sandbox;
let control: Control;
const cleanup: string[] = [];
let dir: string;

beforeAll(async () => {
  sandbox = await startSandbox({ scale: 20 });
  dir = tempDir(cleanup);
  control = await openHomeControl(path.join(dir, 'home'));
});
afterAll(async () => {
  await control.close();
  removeAll(cleanup);
  await sandbox.close();
});

function cases(): Case[] {
  const fx = fixtures(sandbox);
  const candidate = (sandbox.records('candidate.list') as Array<{ id: string }>)[0]?.id;
  const field = fx.customFields.find((f) => f.objectType === 'Candidate' && f.fieldType === 'Number')?.id;
  const make = (n: number, base: () => Record<string, unknown>, fields: string[]) =>
    Array.from({ length: n }, () => mutate(base(), fields));
  return [
    {
      operation: 'candidate.create',
      records: make(
        300,
        () => ({
          name: `Fuzz ${++serial}`,
          email: `fuzz.${serial}@example.com`,
          linkedInUrl: 'https://linkedin.com/in/fuzz',
          'location.city': 'Zürich',
          createdAt: '2024-05-01T09:30:00Z',
        }),
        ['name', 'email', 'linkedInUrl', 'location.city', 'createdAt', 'sourceId', 'alternateEmailAddresses'],
      ),
      brokenLines: ['{"name": "unterminated', '[1,2,3]', '"just a string"', 'null', '42'],
    },
    {
      operation: 'application.create',
      records: make(230, () => ({ candidateId: candidate, jobId: fx.openJob.id }), [
        'candidateId',
        'candidateEmail',
        'jobId',
        'interviewStageId',
        'createdAt',
        'sourceId',
      ]),
      brokenLines: ['{oops}', '{"a":1}{"b":2}'],
    },
    {
      operation: 'customField.setValue',
      records: make(
        230,
        () => ({
          objectId: candidate,
          objectType: 'Candidate',
          fieldId: field,
          fieldValue: String(serial++),
        }),
        ['objectId', 'objectType', 'fieldId', 'fieldValue'],
      ),
      brokenLines: ['true'],
    },
    {
      operation: 'opening.create',
      records: make(
        233,
        () => ({
          identifier: `FZ-${++serial}`,
          jobIds: `["${fx.openJob.id}"]`,
          targetHireDate: '2026-01-31',
          isBackfill: 'no',
          employmentType: 'FullTime',
        }),
        ['identifier', 'jobIds', 'targetHireDate', 'isBackfill', 'employmentType', 'teamId', 'locationIds'],
      ),
      brokenLines: [],
    },
  ];
}

describe('fuzz: malformed records', () => {
  it('1,000 generated records: each quarantined with a reason or applied; no crash; counts add up', async () => {
    let generated = 0;
    for (const c of cases()) {
      const file = path.join(dir, `${c.operation}.jsonl`);
      const lines = c.records.map((r) => JSON.stringify(r));
      // Broken lines go at seeded positions among the records.
      for (const b of c.brokenLines) lines.splice(Math.floor(random() * lines.length), 0, b);
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      generated += lines.length;

      const results: RecordResult[] = [];
      const summary = await runPush({
        client: sandboxClient(sandbox),
        control,
        operation: operation(c.operation),
        rows: readInput({ kind: 'file', file }),
        reconcileDelayMs: 0,
        onResult: (r) => results.push(r),
      });
      expect(summary.total).toBe(lines.length);
      expect(Object.values(summary.counts).reduce((a, b) => a + b, 0)).toBe(lines.length);
      expect(results.map((r) => r.row).sort((a, b) => a - b)).toEqual(lines.map((_, i) => i + 1));
      expect(summary.counts.failed).toBe(0);
      for (const r of results) {
        if (r.status === 'quarantined') {
          expect(r.error?.code, `row ${r.row}`).toBeTruthy();
          expect(r.error?.message.length, `row ${r.row}`).toBeGreaterThan(0);
          expect((await getQuarantine(control.db, r.quarantineId as number))?.errorCode).toBe(r.error?.code);
        } else {
          expect(['created', 'updated', 'skipped-existing', 'skipped-done']).toContain(r.status);
          expect(typeof r.id).toBe('string');
        }
      }
      // Enough of each kind, or the generator is not doing its job.
      expect(summary.counts.quarantined, c.operation).toBeGreaterThan(lines.length / 4);
      expect(lines.length - summary.counts.quarantined, c.operation).toBeGreaterThan(10);
    }
    expect(generated).toBeGreaterThanOrEqual(1000);
    const creates = sandbox.stats().writesByKey['candidate.create'] ?? {};
    expect(Object.values(creates).every((n) => n === 1)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 60_000);

  it('ragged and broken CSV rows are quarantined row by row; the good rows around them go through', async () => {
    const rows: string[] = ['name,email,location.city'];
    const expected: Array<'ok' | 'bad'> = [];
    for (let i = 0; i < 120; i++) {
      const email = `csv.${i}.${serial++}@example.com`;
      switch (Math.floor(random() * 5)) {
        case 0:
          rows.push(`Ragged ${i},${email}`);
          expected.push('bad');
          break;
        case 1:
          rows.push(`Wide ${i},${email},Berlin,extra,more`);
          expected.push('bad');
          break;
        case 2:
          rows.push(`"Quoted, ${i}","${email}","Multi\nLine City"`);
          expected.push('ok');
          break;
        case 3:
          rows.push(`Bad ${i},not-an-email-${i},Paris`);
          expected.push('bad');
          break;
        default:
          rows.push(`Plain ${i},${email},"São Paulo"`);
          expected.push('ok');
      }
    }
    const file = path.join(dir, 'fuzz.csv');
    fs.writeFileSync(file, `\uFEFF${rows.join('\r\n')}\r\n`);
    const results: RecordResult[] = [];
    const summary = await runPush({
      client: sandboxClient(sandbox),
      control,
      operation: operation('candidate.create'),
      rows: readInput({ kind: 'file', file }),
      reconcileDelayMs: 0,
      onResult: (r) => results.push(r),
    });
    expect(summary.total).toBe(expected.length);
    const byRow = new Map(results.map((r) => [r.row, r]));
    expected.forEach((e, i) => {
      const r = byRow.get(i + 1);
      expect(r?.status === 'quarantined' ? 'bad' : 'ok', `row ${i + 1}`).toBe(e);
    });
  });
});
