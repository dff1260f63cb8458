/**
 * The files a stage leaves in its run-folder output folder, for the next stage to read: float32 arrays as `.npy`
 * (exact, so a stage run alone gives the numbers of {@link runMethod}), small records as JSON, and PNGs to look at.
 * Every file is written atomically.
 *
 * - `tsd/`: `gt.npy`, `proxy.npy` `[N, S, S, 3]`, `pose.npy` `[N, P]`, `expression.npy` `[N, E]`, `tsd.json`
 *   (size, frame ids, split) — {@link writeTsdmArtifact} / {@link readTsdmArtifact};
 * - `align/`: `aligned.npy` `[T, S, S, 3]` and `align.json` (held-out indices, TSD errors) —
 *   {@link writeAlignArtifact} / {@link readAlignArtifact};
 * - `render/`: `<row>.npy` `[T, S, S, 3]` in [0, 1], `<row>/<frame id>.png`, `rows.json` (name, label, ms per
 *   frame) — {@link writeRenderArtifact} / {@link readRenderArtifact}.
 *
 * @example
 * ```ts
 * import { writeTsdmArtifact, readTsdmArtifact } from '@consistent-avatar/avatar';
 * writeTsdmArtifact('runs/a/outputs/tsd', tsdmData);
 * const again = readTsdmArtifact('runs/a/outputs/tsd'); // equal, value for value
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { FormatError, readJson, readNpy, ValidationError, writeJsonAtomic, writeNpy, writePng, type NpyArray } from '@consistent-avatar/core';
import type { TsdmData } from '@consistent-avatar/tsd';
import type { AlignStageResult, RenderedRow } from './method-stages.js';

/** Stack equal-length float arrays into one `[n, ...shape]` float32 array. */
function stack(fn: string, argument: string, items: readonly Float32Array[], shape: number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(items.length * size); // [n, ...shape]
  items.forEach((item, i) => {
    if (!(item instanceof Float32Array) || item.length !== size) throw new ValidationError(fn, `${argument}[${i}]`, `a Float32Array of ${size} values`, item);
    out.set(item, i * size);
  });
  return out;
}

/** Read a float32 `.npy` of shape `[n, ...shape]` and cut it into `n` arrays. */
function unstack(file: string, n: number, shape: number[]): Float32Array[] {
  const array: NpyArray = readNpy(file);
  const want = [n, ...shape];
  if (array.dtype !== 'float32' || array.shape.join() !== want.join()) throw new FormatError('npy', file, `expected float32 [${want.join(', ')}], found ${array.dtype} [${array.shape.join(', ')}]`);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = array.data as Float32Array;
  return Array.from({ length: n }, (_, i) => data.slice(i * size, (i + 1) * size));
}

function checkDir(fn: string, dir: string): void {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError(fn, 'dir', 'a folder path', dir);
  fs.mkdirSync(dir, { recursive: true });
}

function record<T>(file: string, check: (value: Record<string, unknown>) => boolean, what: string): T {
  const value = readJson(file);
  if (value === null || typeof value !== 'object' || !check(value as Record<string, unknown>)) throw new FormatError('json', file, `expected ${what}`);
  return value as T;
}

/**
 * Write the TSDM data (stage 2's input) into `dir`.
 * @param dir - the stage's output folder (created).
 * @param data - from `tsdStage`; every frame must have its real-frame TSD (`gt`).
 * @example
 * ```ts
 * writeTsdmArtifact('runs/a/outputs/tsd', tsdStage(plan, proxy));
 * ```
 */
export function writeTsdmArtifact(dir: string, data: TsdmData): void {
  const FN = 'writeTsdmArtifact';
  checkDir(FN, dir);
  if (!data || !Array.isArray(data.frames) || data.frames.length === 0) throw new ValidationError(FN, 'data', 'TSDM data with frames', data);
  const S = data.size, n = data.frames.length;
  const P = data.frames[0]!.pose.length, E = data.frames[0]!.expression.length;
  const f = data.frames;
  writeNpy(join(dir, 'gt.npy'), { dtype: 'float32', shape: [n, S, S, 3], data: stack(FN, 'data.frames.gt', f.map((x) => x.gt!), [S, S, 3]) });
  writeNpy(join(dir, 'proxy.npy'), { dtype: 'float32', shape: [n, S, S, 3], data: stack(FN, 'data.frames.proxy', f.map((x) => x.proxy), [S, S, 3]) });
  writeNpy(join(dir, 'pose.npy'), { dtype: 'float32', shape: [n, P], data: stack(FN, 'data.frames.pose', f.map((x) => x.pose), [P]) });
  writeNpy(join(dir, 'expression.npy'), { dtype: 'float32', shape: [n, E], data: stack(FN, 'data.frames.expression', f.map((x) => x.expression), [E]) });
  writeJsonAtomic(join(dir, 'tsd.json'), { size: S, poseDim: P, expressionDim: E, ids: f.map((x) => x.id), split: data.split });
}

/**
 * Read what {@link writeTsdmArtifact} wrote.
 * @param dir - the stage's output folder.
 * @returns the TSDM data, value for value.
 * @throws FormatError on a missing field or an array of another shape; IoError when a file is missing.
 * @example
 * ```ts
 * const tsdmData = readTsdmArtifact('runs/a/outputs/tsd');
 * ```
 */
export function readTsdmArtifact(dir: string): TsdmData {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('readTsdmArtifact', 'dir', 'a folder path', dir);
  const meta = record<{ size: number; poseDim: number; expressionDim: number; ids: string[]; split: TsdmData['split'] }>(
    join(dir, 'tsd.json'),
    (v) => Number.isInteger(v.size) && Number.isInteger(v.poseDim) && Number.isInteger(v.expressionDim) && Array.isArray(v.ids) && v.split !== null && typeof v.split === 'object',
    '{ size, poseDim, expressionDim, ids, split }',
  );
  const n = meta.ids.length, S = meta.size;
  const gt = unstack(join(dir, 'gt.npy'), n, [S, S, 3]);
  const proxy = unstack(join(dir, 'proxy.npy'), n, [S, S, 3]);
  const pose = unstack(join(dir, 'pose.npy'), n, [meta.poseDim]);
  const expression = unstack(join(dir, 'expression.npy'), n, [meta.expressionDim]);
  return { size: S, frames: meta.ids.map((id, i) => ({ id, gt: gt[i]!, proxy: proxy[i]!, pose: pose[i]!, expression: expression[i]! })), split: meta.split };
}

/**
 * Write the aligned TSD′ of the held-out frames and their errors into `dir`.
 * @param dir - the stage's output folder (created).
 * @param test - the held-out frame indices (the maps' order).
 * @param size - the TSDM's map size S.
 * @param result - from `alignStage`.
 * @example
 * ```ts
 * writeAlignArtifact('runs/a/outputs/align', plan.split.test, plan.tsdmConfig.size, alignStage(plan, model, tsdmData));
 * ```
 */
export function writeAlignArtifact(dir: string, test: number[], size: number, result: AlignStageResult): void {
  const FN = 'writeAlignArtifact';
  checkDir(FN, dir);
  if (!Array.isArray(test) || !result || !Array.isArray(result.aligned) || result.aligned.length !== test.length) throw new ValidationError(FN, 'result.aligned', `one map per held-out frame (${test?.length})`, result?.aligned?.length);
  writeNpy(join(dir, 'aligned.npy'), { dtype: 'float32', shape: [test.length, size, size, 3], data: stack(FN, 'result.aligned', result.aligned, [size, size, 3]) });
  writeJsonAtomic(join(dir, 'align.json'), { size, test, tsd: result.tsd });
}

/**
 * Read what {@link writeAlignArtifact} wrote.
 * @param dir - the stage's output folder.
 * @returns the maps (held-out order), the held-out indices and the TSD errors.
 * @example
 * ```ts
 * const { aligned, test, tsd } = readAlignArtifact('runs/a/outputs/align');
 * ```
 */
export function readAlignArtifact(dir: string): AlignStageResult & { test: number[] } {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('readAlignArtifact', 'dir', 'a folder path', dir);
  const meta = record<{ size: number; test: number[]; tsd: AlignStageResult['tsd'] }>(join(dir, 'align.json'), (v) => Number.isInteger(v.size) && Array.isArray(v.test) && v.tsd !== null && typeof v.tsd === 'object', '{ size, test, tsd }');
  return { aligned: unstack(join(dir, 'aligned.npy'), meta.test.length, [meta.size, meta.size, 3]), test: meta.test, tsd: meta.tsd };
}

/**
 * Write the rendered rows into `dir`: each row's frames as `<row>.npy` (exact) and as PNGs named by frame id.
 * @param dir - the stage's output folder (created).
 * @param ids - the held-out frames' ids (the rows' frame order).
 * @param rows - from `renderRows`.
 * @example
 * ```ts
 * writeRenderArtifact('runs/a/outputs/render', plan.split.test.map((i) => plan.dataset.frames[i].id), rendered);
 * ```
 */
export function writeRenderArtifact(dir: string, ids: string[], rows: RenderedRow[]): void {
  const FN = 'writeRenderArtifact';
  checkDir(FN, dir);
  if (!Array.isArray(rows) || rows.length === 0) throw new ValidationError(FN, 'rows', 'a non-empty array of rendered rows', rows);
  for (const row of rows) {
    if (!/^[a-z0-9-]+$/.test(row.name)) throw new ValidationError(FN, 'rows.name', 'a row name of [a-z0-9-]', row.name);
    if (row.frames.length !== ids.length) throw new ValidationError(FN, `rows.${row.name}.frames`, `${ids.length} frames (one per id)`, row.frames.length);
    const S = row.frames[0]!.height;
    writeNpy(join(dir, `${row.name}.npy`), { dtype: 'float32', shape: [ids.length, S, S, 3], data: stack(FN, `rows.${row.name}.frames`, row.frames.map((f) => f.data as Float32Array), [S, S, 3]) });
    fs.mkdirSync(join(dir, row.name), { recursive: true });
    row.frames.forEach((frame, k) => writePng(join(dir, row.name, `${ids[k]!.replace(/[^A-Za-z0-9_.-]/g, '_')}.png`), frame));
  }
  writeJsonAtomic(join(dir, 'rows.json'), { ids, size: rows[0]!.frames[0]!.height, rows: rows.map((r) => ({ name: r.name, label: r.label, msPerFrame: r.msPerFrame })) });
}

/**
 * Read what {@link writeRenderArtifact} wrote.
 * @param dir - the stage's output folder.
 * @returns the rows with their frames (from the `.npy` files, not the PNGs).
 * @example
 * ```ts
 * const rendered = readRenderArtifact('runs/a/outputs/render');
 * ```
 */
export function readRenderArtifact(dir: string): RenderedRow[] {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('readRenderArtifact', 'dir', 'a folder path', dir);
  const meta = record<{ ids: string[]; size: number; rows: { name: string; label: string; msPerFrame: number | null }[] }>(
    join(dir, 'rows.json'),
    (v) => Array.isArray(v.ids) && Number.isInteger(v.size) && Array.isArray(v.rows),
    '{ ids, size, rows }',
  );
  const S = meta.size;
  return meta.rows.map((r) => ({
    name: r.name,
    label: r.label,
    msPerFrame: r.msPerFrame,
    frames: unstack(join(dir, `${r.name}.npy`), meta.ids.length, [S, S, 3]).map((data) => ({ data, height: S, width: S, channels: 3 })),
  }));
}
