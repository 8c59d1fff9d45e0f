/**
 * The forest's file format: versioned JSON, node arrays as little-endian base64, a SHA-256 checksum
 * over everything else, and no training rows. Loading checks the checksum and every index, so a
 * corrupt or hand-edited model fails to load instead of scoring wrongly or looping.
 */
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import { z } from 'zod';
import type { ForestModel } from './isolation-forest.ts';

export const FOREST_FORMAT = 'txmon-iforest';
export const FOREST_FORMAT_VERSION = 1;

const fileSchema = z.object({
  format: z.literal(FOREST_FORMAT),
  version: z.literal(FOREST_FORMAT_VERSION),
  features: z.array(z.string()),
  trees: z.number().int().min(1),
  sampleSize: z.number().int().min(2),
  heightLimit: z.number().int().min(1),
  seed: z.number().int(),
  fill: z.array(z.number()),
  roots: z.string(),
  feature: z.string(),
  left: z.string(),
  value: z.string(),
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});

export type ForestFile = z.infer<typeof fileSchema>;

export class ForestFileError extends Error {
  override readonly name = 'ForestFileError';
}

if (endianness() !== 'LE') throw new Error('the forest file format assumes a little-endian machine');

const toBase64 = (a: Int32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function fromBase64<T extends Int32Array | Float64Array>(s: string, make: (b: ArrayBuffer) => T, width: number, what: string): T {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.byteLength % width !== 0)
    throw new ForestFileError(`${what}: ${bytes.byteLength} bytes is not a multiple of ${width}`);
  // Copy into a fresh, aligned buffer: Buffer's pool offsets may not be.
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

function checksumOf(body: Omit<ForestFile, 'checksum'>): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;
}

/** The file body for a model; `features` names its columns in order. */
export function toForestFile(model: ForestModel, features: readonly string[]): ForestFile {
  if (features.length !== model.cols) throw new RangeError(`${features.length} feature names for ${model.cols} columns`);
  const body: Omit<ForestFile, 'checksum'> = {
    format: FOREST_FORMAT,
    version: FOREST_FORMAT_VERSION,
    features: [...features],
    trees: model.trees,
    sampleSize: model.sampleSize,
    heightLimit: model.heightLimit,
    seed: model.seed,
    fill: Array.from(model.fill),
    roots: toBase64(model.roots),
    feature: toBase64(model.feature),
    left: toBase64(model.left),
    value: toBase64(model.value),
  };
  return { ...body, checksum: checksumOf(body) };
}

/** Serialises a model to its JSON text. */
export function serializeForest(model: ForestModel, features: readonly string[]): string {
  return JSON.stringify(toForestFile(model, features));
}

/** Parses and checks a model file (text or parsed JSON); throws ForestFileError naming what is wrong. */
export function parseForest(input: string | unknown): { model: ForestModel; features: string[]; checksum: string } {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (err) {
      throw new ForestFileError(`model file is not JSON: ${(err as Error).message}`);
    }
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ForestFileError(`model file: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const file = parsed.data;
  const { checksum, ...body } = file;
  // Re-serialise in the writer's key order so the checksum covers exactly what was written.
  const canonical = {
    format: body.format,
    version: body.version,
    features: body.features,
    trees: body.trees,
    sampleSize: body.sampleSize,
    heightLimit: body.heightLimit,
    seed: body.seed,
    fill: body.fill,
    roots: body.roots,
    feature: body.feature,
    left: body.left,
    value: body.value,
  };
  if (checksumOf(canonical) !== checksum) throw new ForestFileError('model file checksum does not match its contents');

  const cols = file.features.length;
  if (file.fill.length !== cols) throw new ForestFileError(`fill has ${file.fill.length} values for ${cols} features`);
  const roots = fromBase64(file.roots, (b) => new Int32Array(b), 4, 'roots');
  const feature = fromBase64(file.feature, (b) => new Int32Array(b), 4, 'feature');
  const left = fromBase64(file.left, (b) => new Int32Array(b), 4, 'left');
  const value = fromBase64(file.value, (b) => new Float64Array(b), 8, 'value');
  const nodes = feature.length;
  if (roots.length !== file.trees) throw new ForestFileError(`${roots.length} roots for ${file.trees} trees`);
  if (left.length !== nodes || value.length !== nodes) throw new ForestFileError('node arrays differ in length');
  for (const r of roots) if (r < 0 || r >= nodes) throw new ForestFileError(`root ${r} out of range`);
  for (let n = 0; n < nodes; n++) {
    const f = feature[n] as number;
    if (f === -1) continue;
    // Children come after their parent, so every walk ends.
    const l = left[n] as number;
    if (f < 0 || f >= cols) throw new ForestFileError(`node ${n} splits on column ${f} of ${cols}`);
    if (l <= n || l + 1 >= nodes) throw new ForestFileError(`node ${n} has children out of range`);
  }
  return {
    model: {
      cols,
      trees: file.trees,
      sampleSize: file.sampleSize,
      heightLimit: file.heightLimit,
      seed: file.seed,
      fill: Float64Array.from(file.fill),
      roots,
      feature,
      left,
      value,
    },
    features: file.features,
    checksum,
  };
}
