/**
 * A user's FLAME folder: the model converted from FLAME's `generic_model.pkl` to `.npz` (see `FlameModel`), with its
 * UVs either in the `.npz` (`vt` `[N, 2]`, `ft` `[F, 3]`) or read from FLAME's `head_template_mesh.obj` next to it
 * (its `vt` lines and the texture indices of its `f v/vt` lines). The proxy avatar needs the UVs for its texture.
 *
 * @example
 * ```ts
 * import { readFlameFolder } from '@consistent-avatar/proxy';
 * const { model, modelFile, uvFile } = readFlameFolder('/data/flame'); // flame2020.npz + head_template_mesh.obj
 * // … fitProxyAvatar(dataset, { model, shape: new Float32Array(model.numShape) }) …
 * model.dispose();
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, readNpz, readTextBounded, ValidationError } from '@consistent-avatar/core';
import { FlameModel, type NdArrayLike } from './model.js';

/**
 * The model file names looked for first, in this order (else the folder's only model `.npz`).
 * @example
 * ```ts
 * console.log(`put ${FLAME_MODEL_FILES[0]} in your FLAME folder`);
 * ```
 */
export const FLAME_MODEL_FILES = ['flame2020.npz', 'generic_model.npz'] as const;
/**
 * FLAME's template mesh with the UVs.
 * @example
 * ```ts
 * const uvs = readObjUvs(path.join('/data/flame', FLAME_UV_FILE));
 * ```
 */
export const FLAME_UV_FILE = 'head_template_mesh.obj';
/** `.npz` files of a FLAME folder that are not the model (landmark embeddings). */
const NOT_MODELS = new Set(['mediapipe_landmark_embedding.npz', 'landmark_embedding.npz']);

/**
 * The UVs of a Wavefront OBJ: `vt u v` lines and, per triangle `f a/ta b/tb c/tc`, the texture indices (0-based).
 * @param file - the `.obj`.
 * @returns `vt` `[N, 2]` and `ft` `[F, 3]` as npz-style arrays.
 * @throws FormatError on a face without texture indices, a non-triangle, or an index out of range.
 * @example
 * ```ts
 * const { vt, ft } = readObjUvs('/data/flame/head_template_mesh.obj');
 * ```
 */
export function readObjUvs(file: string): { vt: NdArrayLike; ft: NdArrayLike } {
  const FORMAT = 'OBJ';
  const uv: number[] = [];
  const faces: number[] = [];
  const lines = readTextBounded(file, FORMAT).split(/\r?\n/);
  lines.forEach((line, n) => {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'vt') {
      const [u, v] = [Number(parts[1]), Number(parts[2])];
      if (!Number.isFinite(u) || !Number.isFinite(v)) throw new FormatError(FORMAT, file, `line ${n + 1}: 'vt u v' with two numbers`);
      uv.push(u, v);
    } else if (parts[0] === 'f') {
      if (parts.length !== 4) throw new FormatError(FORMAT, file, `line ${n + 1}: a triangle 'f a/ta b/tb c/tc' (FLAME's template is triangles)`);
      for (const corner of parts.slice(1)) {
        const t = Number(corner.split('/')[1]);
        if (!Number.isInteger(t) || t < 1) throw new FormatError(FORMAT, file, `line ${n + 1}: texture indices in every corner ('a/ta'), got '${corner}'`);
        faces.push(t - 1);
      }
    }
  });
  const count = uv.length / 2;
  if (count === 0 || faces.length === 0) throw new FormatError(FORMAT, file, "no 'vt' lines or no faces: not a textured mesh");
  const bad = faces.find((t) => t >= count);
  if (bad !== undefined) throw new FormatError(FORMAT, file, `texture index ${bad + 1} above the ${count} 'vt' lines`);
  return { vt: { data: Float32Array.from(uv), shape: [count, 2] }, ft: { data: Uint32Array.from(faces), shape: [faces.length / 3, 3] } };
}

/**
 * The FLAME model file of a user's folder: `flame2020.npz`, else `generic_model.npz`, else the folder's only `.npz`
 * (landmark embeddings such as `mediapipe_landmark_embedding.npz` aside). Shared by `readFlameFolder` and the video
 * tracker, which needs the model without its UVs.
 *
 * @param dir - the folder (already checked to be one by the caller).
 * @param fn - the public function to name in the error.
 * @param argument - the argument to name in the error (e.g. `'dir'`, `'options.flame'`).
 * @returns the model file's path.
 * @throws ValidationError naming `flame2020.npz` and what the folder holds when no model file can be chosen.
 * @example
 * ```ts
 * const file = flameModelFile('/data/flame', 'myTool', 'flameDir'); // '/data/flame/flame2020.npz'
 * ```
 */
export function flameModelFile(dir: string, fn: string, argument: string): string {
  const npz = fs.readdirSync(dir).filter((n) => n.endsWith('.npz') && !NOT_MODELS.has(n)).sort();
  const name = FLAME_MODEL_FILES.find((n) => npz.includes(n)) ?? (npz.length === 1 ? npz[0] : undefined);
  if (!name) {
    throw new ValidationError(fn, argument, `a folder holding ${FLAME_MODEL_FILES.join(' or ')} (FLAME converted to .npz, see FlameModel), or exactly one model .npz`, `${dir} (missing ${path.join(dir, FLAME_MODEL_FILES[0])}; holds ${npz.length ? npz.join(', ') : 'no model .npz'})`);
  }
  return path.join(dir, name);
}

/**
 * Load the FLAME model of a user's folder, with UVs.
 *
 * 1. The model: `flame2020.npz`, else `generic_model.npz`, else the folder's only `.npz` (landmark embeddings aside).
 * 2. The UVs: the `.npz`'s `vt` / `ft` when it has them, else `head_template_mesh.obj` in the folder.
 * 3. `FlameModel.fromArrays` with FLAME 2020's split (300 shape components, then expression).
 *
 * @param dir - the folder.
 * @returns the model (the caller disposes it), the model file and the UV file (null: UVs from the `.npz`).
 * @throws ValidationError naming the missing file (`flame2020.npz`, `head_template_mesh.obj`) or when `dir` is not a
 *   folder; FormatError / IoError on unreadable files.
 * @example
 * ```ts
 * const flame = readFlameFolder('/data/flame');
 * ```
 */
export function readFlameFolder(dir: string): { model: FlameModel; modelFile: string; uvFile: string | null } {
  const FN = 'readFlameFolder';
  if (typeof dir !== 'string' || dir.length === 0 || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ValidationError(FN, 'dir', 'a folder with your FLAME model (.npz converted from generic_model.pkl) and head_template_mesh.obj', dir);
  }
  // 1. The model file.
  const modelFile = flameModelFile(dir, FN, 'dir');
  const name = path.basename(modelFile);
  const arrays = readNpz(modelFile) as Record<string, NdArrayLike>;
  // 2. The UVs.
  let uvFile: string | null = null;
  if (!arrays.vt || !arrays.ft) {
    uvFile = path.join(dir, FLAME_UV_FILE);
    if (!fs.existsSync(uvFile)) {
      throw new ValidationError(FN, 'dir', `UVs: ${name} without vt / ft needs FLAME's ${FLAME_UV_FILE} in the same folder`, `${dir} (missing ${uvFile})`);
    }
    Object.assign(arrays, readObjUvs(uvFile));
  }
  // 3. The model, FLAME 2020's 300 shape components first.
  return { model: FlameModel.fromArrays(arrays, { shapeSplit: 300 }, modelFile), modelFile, uvFile };
}
