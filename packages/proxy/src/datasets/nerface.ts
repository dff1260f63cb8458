/**
 * NeRFace layout (gafniguy/4D-Facial-Avatars `nerface_code/nerf-pytorch/real_to_nerf.py` and `nerf/load_flame.py`;
 * docs/sources.md §datasets): `transforms_{train,val,test}.json` with
 * `camera_angle_x`, `intrinsics` = [fx, fy, cx, cy] where fx, fy are **pixels** (fx may be negative) and cx, cy are
 * **normalised** to [0, 1]; frames with `file_path` "./train/f_0000" (no extension: ".png" is appended),
 * `transform_matrix` (camera-to-world in NeRF's **OpenGL** axes), `expression` (76) and `bbox` [y0, y1, x0, x1]
 * (normalised). The split is the dataset's own (train / val / test files); frames are sorted by path within the
 * whole dataset and the split indices refer to that order.
 *
 * @example
 * ```ts
 * import { readNerfaceDataset } from '@consistent-avatar/proxy';
 * const ds = readNerfaceDataset('data/person_1');
 * console.log(ds.frames[0].expression?.length); // 76
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, readJson, writeJsonAtomic, writePng, type PngInput } from '@consistent-avatar/core';
import {
  type AvatarDataset, type AvatarFrame, asObject, datasetFile, floatArrayField, frameImagePath, parseMatrix, sameFrameSize,
  withIoErrors,
} from './common.js';

const FORMAT = 'nerface';
const SPLITS = ['train', 'val', 'test'] as const;

/**
 * Read a NeRFace-layout dataset.
 *
 * @example
 * ```ts
 * const ds = readNerfaceDataset('data/person_1'); // ds.split from the dataset's own files
 * ```
 */
export function readNerfaceDataset(root: string): AvatarDataset {
  if (typeof root !== 'string' || !fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new ValidationError('readNerfaceDataset', 'root', 'an existing dataset folder', root);
  }
  const rootAbs = path.resolve(root);
  const entries: { frame: AvatarFrame; split: (typeof SPLITS)[number] }[] = [];
  let size: { width: number; height: number } | null = null;
  for (const split of SPLITS) {
    const file = path.join(rootAbs, `transforms_${split}.json`);
    if (!fs.existsSync(file)) continue;
    const json = asObject(readJson(datasetFile(rootAbs, path.basename(file), FORMAT)), file, 'the file', FORMAT);
    const intr = json.intrinsics;
    if (!Array.isArray(intr) || intr.length !== 4 || !intr.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new FormatError(FORMAT, file, "'intrinsics' should be [fx, fy, cx, cy] (fx, fy in pixels; cx, cy normalised)");
    }
    if (intr[0] === 0 || intr[1] === 0) throw new FormatError(FORMAT, file, `'intrinsics' focal lengths fx, fy should be non-zero (pixels; fx may be negative), got ${intr[0]}, ${intr[1]}`);
    if (!Array.isArray(json.frames)) throw new FormatError(FORMAT, file, "'frames' should be an array");
    for (const [i, raw] of json.frames.entries()) {
      const f = asObject(raw, file, `frames[${i}]`, FORMAT);
      const where = `frames[${i}]`;
      const imagePath = frameImagePath(rootAbs, f.file_path, file, where, FORMAT);
      size = sameFrameSize(size, imagePath, file, where, FORMAT);
      const [fx, fy, cxn, cyn] = intr as number[];
      const frame: AvatarFrame = {
        id: path.basename(imagePath, '.png'),
        imagePath,
        camera: {
          width: size.width, height: size.height, fx: fx!, fy: fy!, cx: cxn! * size.width, cy: cyn! * size.height,
          cameraToWorld: parseMatrix(f.transform_matrix, file, `${where}.transform_matrix`, FORMAT), convention: 'opengl',
        },
      };
      const expression = floatArrayField(f, 'expression', file, FORMAT, where);
      if (expression) frame.expression = expression;
      const bbox = floatArrayField(f, 'bbox', file, FORMAT, where);
      frame.extra = { bbox: bbox ? Array.from(bbox) : [0, 1, 0, 1] };
      entries.push({ frame, split });
    }
  }
  if (entries.length === 0 || !size) throw new FormatError(FORMAT, rootAbs, 'no frames: expected transforms_{train,val,test}.json with frames');
  entries.sort((a, b) => (a.frame.imagePath < b.frame.imagePath ? -1 : a.frame.imagePath > b.frame.imagePath ? 1 : 0));
  const split = { train: [] as number[], test: [] as number[], val: [] as number[] };
  entries.forEach((e, i) => split[e.split].push(i));
  return { format: 'nerface', root: rootAbs, width: size.width, height: size.height, frames: entries.map((e) => e.frame), split };
}

/** One frame for {@link writeNerfaceDataset}. */
export interface NerfaceFrameInput {
  id: string;
  split: 'train' | 'val' | 'test';
  image: PngInput | string;
  /** Camera-to-world in OpenGL axes (NeRF convention). */
  cameraToWorld: ArrayLike<number>;
  /** 76 expression values. */
  expression: ArrayLike<number>;
  bbox?: [number, number, number, number];
}

/**
 * Write a NeRFace-layout dataset: `<split>/<id>.png` and `transforms_<split>.json`.
 *
 * @example
 * ```ts
 * writeNerfaceDataset('out/nerface', { width: 128, height: 128, fx: 250, fy: 250, cx: 64, cy: 64, frames });
 * ```
 */
export function writeNerfaceDataset(out: string, data: { width: number; height: number; fx: number; fy: number; cx: number; cy: number; frames: NerfaceFrameInput[] }): void {
  withIoErrors(out, () => writeNerface(out, data));
}

function writeNerface(out: string, data: Parameters<typeof writeNerfaceDataset>[1]): void {
  const fn = 'writeNerfaceDataset';
  if (typeof out !== 'string' || out.length === 0) throw new ValidationError(fn, 'out', 'an output folder path', out);
  if (!Array.isArray(data?.frames) || data.frames.length === 0) throw new ValidationError(fn, 'data.frames', 'a non-empty array', data?.frames);
  for (const [i, f] of data.frames.entries()) {
    if (!/^[A-Za-z0-9_.-]+$/.test(f.id) || f.id.startsWith('.')) throw new ValidationError(fn, `data.frames[${i}].id`, 'a file-name-safe id', f.id);
    if (!SPLITS.includes(f.split)) throw new ValidationError(fn, `data.frames[${i}].split`, "'train', 'val' or 'test'", f.split);
  }
  for (const split of SPLITS) {
    const frames = data.frames.filter((f) => f.split === split);
    if (frames.length === 0) continue;
    fs.mkdirSync(path.join(out, split), { recursive: true });
    const json = frames.map((f) => {
      const abs = path.join(out, split, `${f.id}.png`);
      if (typeof f.image === 'string') fs.copyFileSync(f.image, abs);
      else writePng(abs, f.image);
      const m = Array.from(f.cameraToWorld, Number);
      return {
        file_path: `./${split}/${f.id}`,
        transform_matrix: [m.slice(0, 4), m.slice(4, 8), m.slice(8, 12), m.slice(12, 16)],
        expression: Array.from(f.expression, (v) => Math.fround(v)),
        bbox: f.bbox ?? [0, 1, 0, 1],
      };
    });
    writeJsonAtomic(path.join(out, `transforms_${split}.json`), {
      camera_angle_x: 2 * Math.atan(data.width / (2 * Math.abs(data.fx))),
      intrinsics: [data.fx, data.fy, data.cx / data.width, data.cy / data.height],
      frames: json,
    });
  }
}
