import { describe, expect, expectTypeOf, it } from 'vitest';
import { defined } from '../../src/util/defined.js';

describe('defined()', () => {
  it('drops the keys whose value is undefined and keeps every other value, in order', () => {
    const out = defined({ a: undefined, b: null, c: 0, d: '', e: false, f: undefined, g: 'x' });
    expect(out).toEqual({ b: null, c: 0, d: '', e: false, g: 'x' });
    expect(Object.keys(out)).toEqual(['b', 'c', 'd', 'e', 'g']);
    expect('a' in out).toBe(false);
  });

  it('returns a copy and leaves its argument alone', () => {
    const input = { a: 1, b: undefined };
    const out = defined(input);
    expect(out).not.toBe(input);
    expect(Object.keys(input)).toEqual(['a', 'b']);
  });

  it('spreads into an object literal the way a conditional spread does', () => {
    const code: string | undefined = undefined as string | undefined;
    const requestId: string | undefined = 'req-1';
    expect({ kind: 'x', ...defined({ code, requestId }) }).toEqual({ kind: 'x', requestId: 'req-1' });
    expect(defined({})).toEqual({});
  });

  it('types the maybe-undefined keys as optional without undefined (exactOptionalPropertyTypes)', () => {
    const out = defined({ id: 'a', code: undefined as string | undefined, n: 1 as number | undefined });
    expectTypeOf(out).toEqualTypeOf<{ id: string } & { code?: string; n?: number }>();
    const target: { id: string; code?: string; n?: number } = out;
    expect(target.id).toBe('a');
  });
});
