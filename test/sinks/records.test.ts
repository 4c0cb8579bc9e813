import { describe, expect, it } from 'vitest';
import { dedupeByKey } from '../../src/sinks/records.js';
import type { StreamShape } from '../../src/sinks/types.js';

const single: StreamShape = { name: 'candidates', primaryKey: ['id'] };
const pair: StreamShape = { name: 'stages', primaryKey: ['planId', 'id'] };

describe('a page without repeated keys', () => {
  it('keeps the last record of a repeated key, in the order of last appearance', () => {
    const page = [
      { id: 'a', v: 1 },
      { id: 'b', v: 1 },
      { id: 'a', v: 2 },
    ];
    expect(dedupeByKey(single, page)).toEqual([
      { id: 'b', v: 1 },
      { id: 'a', v: 2 },
    ]);
  });

  it('tells a number key from the same digits as text, and from a composite key spelling it', () => {
    const page = [{ id: 1 }, { id: '1' }, { id: 'n1' }, { id: 's1' }, { id: '[1]' }];
    expect(dedupeByKey(single, page)).toEqual(page);
    const composite = [
      { planId: 'p', id: 1 },
      { planId: 'p', id: '1' },
      { planId: 'p', id: 1 },
    ];
    expect(dedupeByKey(pair, composite)).toEqual([
      { planId: 'p', id: '1' },
      { planId: 'p', id: 1 },
    ]);
  });

  it('compares keys as they are stored', () => {
    const page = [{ id: 'a\u0000' }, { id: 'a\ufffd' }];
    const pgText = (v: string | number) => (typeof v === 'string' ? v.replaceAll('\u0000', '\ufffd') : v);
    expect(dedupeByKey(single, page, pgText)).toEqual([{ id: 'a\ufffd' }]);
  });

  it('refuses a record without a usable key', () => {
    expect(() => dedupeByKey(single, [{ id: Number.NaN }])).toThrow(/no usable key field/);
    expect(() => dedupeByKey(single, [{ name: 'x' }])).toThrow(/no usable key field/);
  });
});
