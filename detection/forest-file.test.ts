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
