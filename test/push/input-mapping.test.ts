import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { coerceRecord } from '../../src/push/fields.js';
import { type InputRow, readInput } from '../../src/push/input.js';
import { applyMapping, IDENTITY_MAPPING } from '../../src/push/mapping.js';
import { findOperation } from '../../src/push/operations/index.js';
import { statusPath } from '../../src/push/operations/job-status.js';
import type { Operation } from '../../src/push/types.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function read(name: string, content: string): Promise<InputRow[]> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  const out: InputRow[] = [];
  for await (const r of readInput({ kind: 'file', file })) out.push(r);
  return out;
}

describe('inputs', () => {
  it('reads RFC 4180 CSV: BOM, CRLF, quoted commas, quotes and newlines', async () => {
    const rows = await read(
      'a.csv',
      '\uFEFFname,email\r\n"Lovelace, Ada",ada@example.com\r\n"Grace ""Amazing""\nHopper",g@example.com\r\n',
    );
    expect(rows.map((r) => r.record)).toEqual([
      { name: 'Lovelace, Ada', email: 'ada@example.com' },
      { name: 'Grace "Amazing"\nHopper', email: 'g@example.com' },
    ]);
  });

  it('reports a ragged CSV row as an error for that row only', async () => {
    const rows = await read(
      'b.csv',
      'name,email\nAda,a@example.com\nBob\nCy,c@example.com,extra\nDee,d@example.com\n',
    );
    expect(rows.map((r) => [r.row, r.error === undefined])).toEqual([
      [1, true],
      [2, false],
      [3, false],
      [4, true],
    ]);
    expect(rows[1]?.error).toMatch(/1 fields but the header has 2/);
  });

  it('reads JSONL with a broken line as an error for that line', async () => {
    const rows = await read('c.jsonl', '{"name":"Ada"}\n\n{oops\n[1]\n{"name":"Bob"}\n');
    expect(rows.map((r) => [r.row, r.line, r.error === undefined])).toEqual([
      [1, 1, true],
      [2, 3, false],
      [3, 4, false],
      [4, 5, true],
    ]);
  });

  it('reads a JSON array', async () => {
    const rows = await read('d.json', '[{"name":"Ada"},2]');
    expect(rows[0]?.record).toEqual({ name: 'Ada' });
    expect(rows[1]?.error).toMatch(/not a JSON object/);
  });

  it('reads rows of a SQLite query', async () => {
    const { openSqlite } = await import('../../src/util/sqlite.js');
    const file = path.join(dir, 'synced.db');
    const db = openSqlite(file);
    db.exec(
      "CREATE TABLE candidates (name TEXT, email TEXT); INSERT INTO candidates VALUES ('Ada','a@example.com')",
    );
    db.close();
    const out: InputRow[] = [];
    for await (const r of readInput({
      kind: 'sql',
      from: `sqlite:${file}`,
      query: 'SELECT name, email FROM candidates',
    }))
      out.push(r);
    expect(out[0]?.record).toEqual({ name: 'Ada', email: 'a@example.com' });
  });
});

describe('mapping and coercion', () => {
  const create = findOperation('candidate.create') as Operation;

  it('expands dotted columns, renames, drops, splits lists and sets constants', () => {
    const mapped = applyMapping(
      {
        'E-mail': 'ada@example.com',
        'location.city': 'London',
        Others: 'a@x.io; b@x.io',
        Notes: 'x',
        name: 'Ada',
      },
      {
        columns: { 'E-mail': 'email', Others: { to: 'alternateEmailAddresses', split: ';' }, Notes: null },
        constants: { sourceId: '3ae2b801-19f6-41ef-ad28-214bd731948f' },
        split: {},
        ignoreUnknown: false,
      },
    );
    expect(mapped).toEqual({
      ok: true,
      value: {
        email: 'ada@example.com',
        location: { city: 'London' },
        alternateEmailAddresses: ['a@x.io', 'b@x.io'],
        name: 'Ada',
        sourceId: '3ae2b801-19f6-41ef-ad28-214bd731948f',
      },
    });
  });

  it('builds lists from indexed columns', () => {
    const mapped = applyMapping(
      { 'socialLinks.0.type': 'GitHub', 'socialLinks.0.url': 'https://github.com/a' },
      IDENTITY_MAPPING,
    );
    expect(mapped).toEqual({
      ok: true,
      value: { socialLinks: [{ type: 'GitHub', url: 'https://github.com/a' }] },
    });
  });

  it('coerces booleans, numbers, dates and currency by field type and never guesses', () => {
    const fields = {
      a: { type: 'boolean' },
      n: { type: 'integer' },
      d: { type: 'date' },
      t: { type: 'datetime' },
      c: { type: 'currency' },
      e: { type: 'enum', values: ['FullTime', 'PartTime'] },
    } as const;
    expect(
      coerceRecord(
        { a: 'Yes', n: '42', d: '2024-02-29', t: '2024-05-01', c: 'USD 100000', e: 'fulltime' },
        fields,
      ),
    ).toEqual({
      ok: true,
      value: {
        a: true,
        n: 42,
        d: '2024-02-29',
        t: '2024-05-01T00:00:00.000Z',
        c: { currencyCode: 'USD', value: 100000 },
        e: 'FullTime',
      },
    });
    const bad = coerceRecord(
      { a: 'maybe', n: '4.5', d: '2023-02-29', t: '05/01/2024', c: 'lots', e: 'Gig' },
      fields,
    );
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path)).toEqual(['a', 'n', 'd', 't', 'c', 'e']);
  });

  it('refuses a list cell without a configured separator instead of guessing', () => {
    const r = coerceRecord({ name: 'Ada', alternateEmailAddresses: 'a@x.io;b@x.io' }, create.fields);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]?.reason).toMatch(/separator/);
  });

  it('validates ids, URLs and nested fields with their paths', () => {
    const r = coerceRecord(
      { name: 'Ada', sourceId: '123', linkedInUrl: 'linkedin/ada', location: { city: 5, planet: 'Mars' } },
      create.fields,
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.path)).toEqual(['linkedInUrl', 'sourceId', 'location.planet']);
  });
});

describe('job status transitions', () => {
  it('follows only the documented transitions', () => {
    expect(statusPath('Draft', 'Open')).toEqual(['Open']);
    expect(statusPath('Open', 'Draft')).toEqual(['Closed', 'Draft']);
    expect(statusPath('Open', 'Archived')).toEqual(['Closed', 'Archived']);
    expect(statusPath('Archived', 'Open')).toEqual(['Draft', 'Open']);
    expect(statusPath('Closed', 'Closed')).toEqual([]);
  });
});
