/**
 * Save / load an {@link ExpressionDatabase} as a safetensors file (the arrays) plus a JSON file (vocabulary and clip
 * table), side by side: `db.safetensors` + `db.json`.
 *
 * safetensors tensors: `vectors` F32 `[N, D]`, `label_index` I32 `[N]`, `clip_index` I32 `[N]`, `frame_index`
 * I32 `[N]`; `__metadata__` = `{format: 'consistent-avatar.expression-database', version: '1'}`.
 * JSON: `{format, version, dimension, size, vocabulary: {name, labels}, clips: [{clipId, actor, label, intensity}],
 * tensors: '<file name of the safetensors file>'}`.
 *
 * Reading uses core's safetensors reader; every inconsistency between the two files raises a FormatError.
 *
 * @example
 * ```ts
 * import { saveExpressionDatabase, loadExpressionDatabase } from '@consistent-avatar/emotion';
 * saveExpressionDatabase(db, '/tmp/mead7.safetensors');   // writes mead7.safetensors + mead7.json
 * const again = loadExpressionDatabase('/tmp/mead7.safetensors');
 * ```
 *
 * @packageDocumentation
 */
import * as path from 'node:path';
import { FormatError, ValidationError, describeValue, readJson, readSafetensors, writeFileAtomic, writeSafetensors } from '@consistent-avatar/core';
import { ExpressionDatabase, type ExpressionClip } from './database.js';
import { vocabulary } from './vocabulary.js';

const FORMAT = 'consistent-avatar.expression-database';
/** Highest clip intensity level stored (MEAD has 1–3; 0 is unknown). */
const MAX_INTENSITY = 100;
const VERSION = '1';

/** `x.safetensors` / `x.json` / `x` → the two file paths. */
function filePaths(file: string): { tensors: string; json: string } {
  const stem = file.replace(/\.(safetensors|json)$/, '');
  return { tensors: `${stem}.safetensors`, json: `${stem}.json` };
}

/**
 * Write a database as `<stem>.safetensors` + `<stem>.json` (atomically, each).
 *
 * @param file - `<stem>.safetensors`, `<stem>.json` or `<stem>`.
 * @returns the two paths written.
 *
 * @example
 * ```ts
 * const { tensors, json } = saveExpressionDatabase(db, 'out/mead_front_l3');
 * ```
 */
export function saveExpressionDatabase(db: ExpressionDatabase, file: string): { tensors: string; json: string } {
  if (!(db instanceof ExpressionDatabase)) {
    throw new ValidationError('saveExpressionDatabase', 'db', 'an ExpressionDatabase', db);
  }
  if (typeof file !== 'string' || file.length === 0) {
    throw new ValidationError('saveExpressionDatabase', 'file', 'a non-empty path', file);
  }
  const paths = filePaths(file);
  const n = db.size;
  writeSafetensors(
    paths.tensors,
    {
      vectors: { dtype: 'F32', shape: [n, db.dimension], data: db.vectors },
      label_index: { dtype: 'I32', shape: [n], data: db.labelIndices },
      clip_index: { dtype: 'I32', shape: [n], data: db.clipIndices },
      frame_index: { dtype: 'I32', shape: [n], data: db.frameIndices },
    },
    { format: FORMAT, version: VERSION },
  );
  const meta = {
    format: FORMAT,
    version: VERSION,
    dimension: db.dimension,
    size: n,
    vocabulary: { name: db.vocabulary.name, labels: db.vocabulary.labels },
    clips: db.clips,
    tensors: path.basename(paths.tensors),
  };
  writeFileAtomic(paths.json, JSON.stringify(meta));
  return paths;
}

/**
 * Read a database written by {@link saveExpressionDatabase}.
 *
 * @param file - `<stem>.safetensors`, `<stem>.json` or `<stem>`.
 *
 * @example
 * ```ts
 * const db = loadExpressionDatabase('out/mead_front_l3.safetensors');
 * db.classCounts();
 * ```
 */
export function loadExpressionDatabase(file: string): ExpressionDatabase {
  if (typeof file !== 'string' || file.length === 0) {
    throw new ValidationError('loadExpressionDatabase', 'file', 'a non-empty path', file);
  }
  const paths = filePaths(file);
  // 1. JSON metadata (bounded size and depth, a regular file).
  const meta = readJson(paths.json) as Record<string, unknown>;
  const bad = (problem: string): never => {
    throw new FormatError('json', paths.json, problem);
  };
  if (meta === null || typeof meta !== 'object' || meta.format !== FORMAT) bad(`not an expression database (format must be '${FORMAT}')`);
  if (meta.version !== VERSION) bad(`unsupported version ${describeValue(meta.version)} (expected '${VERSION}')`);
  const dimension = meta.dimension as number;
  const size = meta.size as number;
  if (!Number.isInteger(dimension) || dimension < 1) bad(`'dimension' must be a positive integer, got ${describeValue(meta.dimension)}`);
  if (!Number.isInteger(size) || size < 0) bad(`'size' must be an integer ≥ 0, got ${describeValue(meta.size)}`);
  const vocab = meta.vocabulary as { name?: unknown; labels?: unknown } | undefined;
  if (!vocab || !Array.isArray(vocab.labels) || vocab.labels.length === 0 || vocab.labels.some((l) => typeof l !== 'string')) {
    bad("'vocabulary.labels' must be a non-empty array of strings");
  }
  const clips = meta.clips as ExpressionClip[];
  if (!Array.isArray(clips)) bad("'clips' must be an array");
  clips.forEach((c, i) => {
    if (
      c === null ||
      typeof c !== 'object' ||
      typeof c.clipId !== 'string' ||
      typeof c.actor !== 'string' ||
      typeof c.label !== 'string' ||
      !Number.isInteger(c.intensity) ||
      c.intensity < 0 ||
      c.intensity > MAX_INTENSITY
    ) {
      bad(`clips[${i}] must be {clipId, actor, label, intensity (an integer in [0, ${MAX_INTENSITY}])}`);
    }
  });

  // 2. Arrays.
  let tensors: ReturnType<typeof readSafetensors>['tensors'];
  let metadata: Record<string, string>;
  try {
    ({ tensors, metadata } = readSafetensors(paths.tensors));
  } catch (error) {
    if (error instanceof FormatError) throw error;
    throw new FormatError('safetensors', paths.tensors, `cannot read: ${(error as Error).message}`);
  }
  const badT = (problem: string): never => {
    throw new FormatError('safetensors', paths.tensors, problem);
  };
  if (metadata.format !== FORMAT) badT(`__metadata__.format is ${describeValue(metadata.format)}, expected '${FORMAT}'`);
  const expect = (name: string, dtype: string, shape: number[]) => {
    const t = tensors[name];
    if (!t) return badT(`missing tensor '${name}'`);
    if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      return badT(`tensor '${name}' is ${t.dtype} [${t.shape.join(', ')}], expected ${dtype} [${shape.join(', ')}] (from ${path.basename(paths.json)})`);
    }
    return t.data;
  };
  const vectors = expect('vectors', 'F32', [size, dimension]) as Float32Array;
  const labelIndices = expect('label_index', 'I32', [size]) as Int32Array;
  const clipIndices = expect('clip_index', 'I32', [size]) as Int32Array;
  const frameIndices = expect('frame_index', 'I32', [size]) as Int32Array;
  try {
    const vocabName = typeof vocab!.name === 'string' ? vocab!.name : 'custom';
    const builtIn = ['mead8', 'mead7', 'affectnet8'] as const;
    const v = (builtIn as readonly string[]).includes(vocabName)
      ? vocabulary(vocabName as (typeof builtIn)[number])
      : vocabulary(vocab!.labels as string[], vocabName);
    if (v.labels.join('\n') !== (vocab!.labels as string[]).join('\n')) bad(`vocabulary '${vocabName}' labels differ from the built-in one`);
    return new ExpressionDatabase({ dimension, vocabulary: v, vectors, labelIndices, clipIndices, frameIndices, clips });
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new FormatError('expression-database', paths.tensors, `inconsistent contents: ${error.message}`);
    }
    throw error;
  }
}
