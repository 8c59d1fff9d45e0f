import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Rng } from '../domain/rng.ts';
import { ForestFileError, parseForest, serializeForest } from './forest-file.ts';
import { scoreMatrix, trainForest, type Matrix } from './isolation-forest.ts';

function data(rows: number, cols: number, seed: number): Matrix {
  const rng = new Rng(seed);
  return { rows, cols, data: Float64Array.from({ length: rows * cols }, () => rng.normal()) };
}

/** Re-signs an edited body, as a forger would, to reach the structural checks. */
function resign(file: Record<string, unknown>): string {
  const { checksum: _drop, ...body } = file;
  return JSON.stringify({ ...body, checksum: `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}` });
}

describe('forest file', () => {
  const m = data(3000, 4, 1);
  m.data[5] = NaN;
  const model = trainForest(m, { seed: 5 });
  const text = serializeForest(model, ['a', 'b', 'c', 'd']);

  it('round-trips to a model that scores identically, holds no training rows and stays small', () => {
    const { model: back, features, checksum } = parseForest(text);
    expect(features).toEqual(['a', 'b', 'c', 'd']);
    expect(checksum).toMatch(/^sha256:/);
    expect(scoreMatrix(back, m)).toEqual(scoreMatrix(model, m));
    // 3000 × 4 training values would be 96 KB as doubles; the model is the trees only.
    expect(text.length).toBeLessThan(100 * 511 * 16 * 1.4);
    expect(text).not.toContain(String(m.data[0]));
  });

  it('refuses a file whose contents do not match the checksum', () => {
    const file = JSON.parse(text) as Record<string, unknown>;
    file.seed = 6;
    expect(() => parseForest(JSON.stringify(file))).toThrow(/checksum/);
  });

  it('refuses structurally broken files even when re-signed', () => {
    const file = JSON.parse(text) as Record<string, unknown>;
    const left = new Int32Array(Buffer.from(file.left as string, 'base64').buffer.slice(0));
    left[0] = 0; // the root pointing at itself would loop forever
    const bad = resign({ ...file, left: Buffer.from(left.buffer).toString('base64') });
    expect(() => parseForest(bad)).toThrow(ForestFileError);
    expect(() => parseForest(resign({ ...file, fill: [1] }))).toThrow(/fill/);
    expect(() => parseForest(resign({ ...file, version: 2 }))).toThrow(/version/);
    expect(() => parseForest('{')).toThrow(/not JSON/);
  });
});

// What the mutation run showed unpinned (`npm run mutation`): each structural refusal on its own,
// with its message, at its bound; the parsed-JSON input; the error's name.
describe('forest file: each refusal', () => {
  const m = data(400, 3, 2);
  const model = trainForest(m, { seed: 9, trees: 5, sampleSize: 32 });
  const file = JSON.parse(serializeForest(model, ['a', 'b', 'c'])) as Record<string, unknown>;
  const bytes = (key: string) => {
    const b = Buffer.from(file[key] as string, 'base64');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  const ints = (key: string) => new Int32Array(bytes(key));
  const b64 = (a: Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  const nodes = ints('feature').length;
  const refusal = (patch: Record<string, unknown>): string => {
    try {
      parseForest(resign({ ...file, ...patch }));
    } catch (err) {
      expect(err).toBeInstanceOf(ForestFileError);
      expect((err as Error).name).toBe('ForestFileError');
      return (err as Error).message;
    }
    throw new Error('accepted');
  };
  /** The first split node: its index and its left child. */
  const split = (() => {
    const f = ints('feature');
    const n = f.findIndex((x) => x !== -1);
    return { n, left: ints('left')[n] as number };
  })();

  it('takes the file as text or as parsed JSON, the same model either way', () => {
    const fromText = parseForest(JSON.stringify(file));
    const fromObject = parseForest(file);
    expect(fromObject.checksum).toBe(fromText.checksum);
    expect(scoreMatrix(fromObject.model, m)).toEqual(scoreMatrix(model, m));
  });

  it('names the first schema problem and its path', () => {
    expect(() => parseForest({ ...file, trees: 'five' })).toThrow(/^model file: trees: /);
    expect(() => parseForest([])).toThrow(/^model file: \(root\): /);
  });

  it('refuses arrays of the wrong width, counts or lengths, and roots, columns or children out of range', () => {
    expect(refusal({ roots: Buffer.from([1, 2, 3]).toString('base64') })).toBe('roots: 3 bytes is not a multiple of 4');
    expect(refusal({ value: Buffer.from([1, 2, 3, 4]).toString('base64') })).toBe('value: 4 bytes is not a multiple of 8');
    expect(refusal({ trees: 6 })).toBe('5 roots for 6 trees');
    expect(refusal({ left: b64(ints('left').slice(1)) })).toBe('node arrays differ in length');
    const value = new Float64Array(bytes('value'));
    expect(refusal({ value: b64(value.slice(1)) })).toBe('node arrays differ in length');
    const roots = ints('roots');
    expect(refusal({ roots: b64(Int32Array.from(roots, (r, i) => (i === 0 ? nodes : r))) })).toBe(`root ${nodes} out of range`);
    expect(refusal({ roots: b64(Int32Array.from(roots, (r, i) => (i === 0 ? -1 : r))) })).toBe('root -1 out of range');
    const feature = ints('feature');
    feature[split.n] = 3;
    expect(refusal({ feature: b64(feature) })).toBe(`node ${split.n} splits on column 3 of 3`);
    feature[split.n] = -2;
    expect(refusal({ feature: b64(feature) })).toBe(`node ${split.n} splits on column -2 of 3`);
    const left = ints('left');
    left[split.n] = nodes - 1; // its right child (left + 1) would be past the last node
    expect(refusal({ left: b64(left) })).toBe(`node ${split.n} has children out of range`);
    left[split.n] = split.n;
    expect(refusal({ left: b64(left) })).toBe(`node ${split.n} has children out of range`);
    // The last split whose children are the last two nodes is in range.
    expect(() => parseForest(resign(file))).not.toThrow();
  });

  it('refuses to write a file whose feature names do not match the columns', () => {
    expect(() => serializeForest(model, ['a', 'b'])).toThrow('2 feature names for 3 columns');
  });
});
