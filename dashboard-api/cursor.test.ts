import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { HttpProblem } from './plugins/errors.ts';

describe('cursors', () => {
  it('round-trip their key', () => {
    expect(decodeCursor(encodeCursor([1_767_225_600_000, 'abc']), ['number', 'string'])).toEqual([1_767_225_600_000, 'abc']);
  });

  it('refuse anything not of the expected shape with a 400', () => {
    for (const c of ['', 'nonsense', encodeCursor(['x']), encodeCursor([1, 2]), Buffer.from('{"a":1}').toString('base64url')]) {
      const err = (() => {
        try {
          decodeCursor(c, ['number', 'string']);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, c).toBeInstanceOf(HttpProblem);
      expect((err as HttpProblem).status).toBe(400);
    }
  });
});
