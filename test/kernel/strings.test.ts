import { describe, expect, it } from 'vitest';
import { flat, newId } from '../../src/kernel/strings.js';

describe('flat', () => {
  it('copies any string exactly: joined pieces, non-Latin-1 text, quotes and lone surrogates', () => {
    const joined = ['parley:history', ':', 'api:bench:', 'c_Zx9', '\u4e2d\u6587 "quoted" \\ \n'].join('');
    for (const s of [joined, `${'x'.repeat(20)}\ud800`, `\udc00${'é'.repeat(30)}`, '{"a":[1,2,{"b":"\u00e9"}]}'.repeat(3), 'short']) {
      expect(flat(s)).toBe(s);
      expect(flat(s).length).toBe(s.length);
    }
  });
});

describe('newId', () => {
  it('is a random version-4 UUID, different each time', () => {
    const ids = Array.from({ length: 1_000 }, newId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
