import { describe, expect, it } from 'vitest';
import { encodeValue, inferType, StreamLayout, sanitizeIdentifier } from '../../src/sinks/layout.js';
import { jsonbSafe } from '../../src/sinks/postgres.js';

describe('sink table layout', () => {
  it('names columns in snake_case restricted to [a-z0-9_]', () => {
    expect(sanitizeIdentifier('sourceChannel')).toBe('source_channel');
    expect(sanitizeIdentifier('HTTPServerURL')).toBe('http_server_url');
    expect(sanitizeIdentifier('Ünïcødé name')).toBe('unic_de_name');
    expect(sanitizeIdentifier('"; drop table x; --')).toBe('drop_table_x');
    expect(sanitizeIdentifier('🦄')).toBe('field');
    expect(sanitizeIdentifier('2024score')).toBe('f_2024score');
    expect(sanitizeIdentifier('y'.repeat(300)).length).toBeLessThanOrEqual(48);
  });

  it('resolves collisions in order of first appearance and never hands out _ashpipe_ names', () => {
    const first = new StreamLayout('candidates', ['id'], []).extend([
      { id: 'x', ID: 'y', 'a.b': 1, a_b: 2, _ashpipe_raw: 3, ashpipe_raw: 4 },
    ]);
    expect(first.added.map((c) => [c.field, c.column])).toEqual([
      ['id', 'id'],
      ['ID', 'id_2'],
      ['a.b', 'a_b'],
      ['a_b', 'a_b_2'],
      ['_ashpipe_raw', 'ashpipe_raw'],
      ['ashpipe_raw', 'ashpipe_raw_2'],
    ]);
    // A later field that sanitises to a taken name gets the next free suffix; known fields are not re-added.
    const second = first.layout.extend([{ id: 'x', 'A B': 5, ID: 'z' }]);
    expect(second.added.map((c) => [c.field, c.column, c.position])).toEqual([['A B', 'a_b_3', 6]]);
  });

  it('fixes a column type by the first non-null value and stores misfits as NULL', () => {
    expect([null, 'x', 3, 3.5, true, { a: 1 }, [1]].map((v) => inferType(v))).toEqual([
      undefined,
      'text',
      'integer',
      'real',
      'boolean',
      'json',
      'json',
    ]);
    const { layout, added } = new StreamLayout('jobs', ['id'], []).extend([
      { id: 'j', a: null },
      { id: 'k', a: 2 },
    ]);
    expect(added.map((c) => [c.column, c.type])).toEqual([
      ['id', 'text'],
      ['a', 'integer'],
    ]);
    expect(layout.column('a')?.type).toBe('integer');
    expect(encodeValue('integer', 2.5, 'sqlite')).toBeNull();
    expect(encodeValue('real', 2, 'postgres')).toBe(2);
    expect(encodeValue('text', 'a\u0000b', 'postgres')).toBeNull();
    expect(encodeValue('boolean', true, 'sqlite')).toBe(1);
    expect(encodeValue('json', 'flat', 'sqlite')).toBeNull();
  });

  it('rejects reserved or unusual stream names', () => {
    expect(() => new StreamLayout('_ashpipe_state', ['id'], [])).toThrow(/invalid stream name/);
    expect(() => new StreamLayout('custom_field_values', ['id'], [])).toThrow(/invalid stream name/);
    expect(() => new StreamLayout('Candidates; drop', ['id'], [])).toThrow(/invalid stream name/);
  });

  it('makes JSON acceptable to jsonb without touching literal backslash text', () => {
    const safe = jsonbSafe(JSON.stringify({ a: 'x\u0000', b: '\ud800', c: '\\u0000', d: '😀' }));
    expect(safe).not.toMatch(/(?<!\\)\\u(0000|d800)/);
    expect(JSON.parse(safe)).toEqual({ a: 'x\ufffd', b: '\ufffd', c: '\\u0000', d: '😀' });
  });
});
