/**
 * IMAvatar layout (zhengyuf/IMavatar `code/datasets/real_dataset.py`; docs/sources.md §datasets): a folder with
 * `flame_params.json`, images in `image/` and masks in `mask/`. Top level: `shape_params` (100) and `intrinsics`
 * [fx, fy, cx, cy] normalised by the image size (an old format used 512-pixel units, detected when cy > 1). Per frame:
 * `file_path` (e.g. "./image/1", ".png" appended when missing), `world_mat` (world → camera, 3×4 or 4×4, read as
 * OpenCV axes), `expression` (50), `pose` (15 = global, neck, jaw, eyes), `flame_keypoints`, `bbox`.
 * Frames are sorted by path; the default split is the last 350 frames as test (option).
 *
 * @example
 * ```ts
 * import { readImavatarDataset } from '@consistent-avatar/proxy';
 * const ds = readImavatarDataset('data/subject1/subject1/MVI_1810', { testFrames: 100 });
 * console.log(ds.frames[0].pose?.length, ds.shape?.length); // 15 100
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, readJson, writeJsonAtomic, writePng, type PngInput } from '@consistent-avatar/core';
import { invertRigid } from '../raster/camera.js';
import {
  type AvatarDataset, type AvatarFrame, asObject, datasetFile, floatArrayField, frameImagePath, parseMatrix, sameFrameSize,
  resolveInside, splitLastFrames,
  withIoErrors,
} from './common.js';

const FORMAT = 'imavatar';

/**
 * Read an IMAvatar-layout folder (`flame_params.json` + `image/` + `mask/`).
 *
 * @example
 * ```ts
 * const ds = readImavatarDataset('data/subject/subject/sub_dir');
 * ```
 */
export function readImavatarDataset(root: string, options: { testFrames?: number; valFrames?: number; jsonName?: string } = {}): AvatarDataset {
  if (typeof root !== 'string' || !fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new ValidationError('readImavatarDataset', 'root', 'an existing dataset folder', root);
  }
  const rootAbs = path.resolve(root);
  const file = path.join(rootAbs, options.jsonName ?? 'flame_params.json');
  if (!fs.existsSync(file)) throw new FormatError(FORMAT, rootAbs, `missing ${path.basename(file)}`);
  const json = asObject(readJson(datasetFile(rootAbs, path.basename(file), FORMAT)), file, 'the file', FORMAT);
  const intr = json.intrinsics as number[]; // kept in float64 (pixels = normalised × size)
  if (!Array.isArray(intr) || intr.length !== 4 || !intr.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new FormatError(FORMAT, file, "'intrinsics' should be [fx, fy, cx, cy] (normalised by the image size)");
  if (intr[0] === 0 || intr[1] === 0) throw new FormatError(FORMAT, file, `'intrinsics' focal lengths should be non-zero, got ${intr[0]}, ${intr[1]}`);
  const shape = floatArrayField(json, 'shape_params', file, FORMAT, 'top level');
  if (!Array.isArray(json.frames) || json.frames.length === 0) throw new FormatError(FORMAT, file, "'frames' should be a non-empty array");
  let size: { width: number; height: number } | null = null;
  const frames: AvatarFrame[] = json.frames.map((raw, i) => {
    const f = asObject(raw, file, `frames[${i}]`, FORMAT);
    const where = `frames[${i}]`;
    const imagePath = frameImagePath(rootAbs, f.file_path, file, where, FORMAT);
    size = sameFrameSize(size, imagePath, file, where, FORMAT);
    // Old format: intrinsics in 512-pixel units (cy > 1); new: normalised by the image size.
    const scaleX = intr[3]! > 1 ? size.width / 512 : size.width, scaleY = intr[3]! > 1 ? size.height / 512 : size.height;
    const w2c = parseMatrix(f.world_mat, file, `${where}.world_mat`, FORMAT);
    const frame: AvatarFrame = {
      id: path.basename(imagePath, '.png'),
      imagePath,
      camera: {
        width: size.width, height: size.height, fx: intr[0]! * scaleX, fy: intr[1]! * scaleY, cx: intr[2]! * scaleX, cy: intr[3]! * scaleY,
        cameraToWorld: Array.from(invertRigid(w2c)), convention: 'opencv',
      },
    };
    const expression = floatArrayField(f, 'expression', file, FORMAT, where);
    if (expression) frame.expression = expression;
    const pose = floatArrayField(f, 'pose', file, FORMAT, where);
    if (pose) {
      if (pose.length !== 15) throw new FormatError(FORMAT, file, `${where}.pose should have 15 values (global, neck, jaw, eyes), got ${pose.length}`);
      frame.pose = pose;
    }
    // The mask is the image path with its folder named `image` replaced by `mask` (IMAvatar's loader); an image
    // outside such a folder has none. The mask path is confined like every dataset path.
    const segments = path.relative(rootAbs, imagePath).split(path.sep);
    const imageDir = segments.lastIndexOf('image', segments.length - 2);
    if (imageDir >= 0) {
      segments[imageDir] = 'mask';
      const maskAbs = resolveInside(rootAbs, segments.join('/'), file, `${where} mask`, FORMAT);
      if (fs.existsSync(maskAbs) && fs.statSync(maskAbs).isFile()) frame.maskPath = maskAbs;
    }
    const extra: Record<string, unknown> = {};
    for (const key of ['flame_keypoints', 'bbox']) if (f[key] !== undefined) extra[key] = f[key];
    frame.extra = extra;
    return frame;
  });
  frames.sort((a, b) => (a.imagePath < b.imagePath ? -1 : a.imagePath > b.imagePath ? 1 : 0));
  const ds: AvatarDataset = {
    format: 'imavatar', root: rootAbs, width: size!.width, height: size!.height, frames,
    split: splitLastFrames(frames.length, options.testFrames ?? 350, options.valFrames ?? 20),
  };
  if (shape) ds.shape = shape;
  return ds;
}

/** One frame for {@link writeImavatarDataset}. */
export interface ImavatarFrameInput {
  id: string;
  image: PngInput | string;
  mask?: PngInput | string;
  /** Camera-to-world (OpenCV axes); written as `world_mat` = its inverse (3×4). */
  cameraToWorld: ArrayLike<number>;
  /** 50 expression values (any length is written as given). */
  expression: ArrayLike<number>;
  /** 15 pose values (global, neck, jaw, eyes). */
  pose: ArrayLike<number>;
}

/**
 * Write an IMAvatar-layout folder: `image/ID.png`, `mask/ID.png`, `flame_params.json` (normalised intrinsics).
 *
 * @example
 * ```ts
 * writeImavatarDataset('out/imavatar', { width: 128, height: 128, fx: 250, fy: 250, cx: 64, cy: 64, shape, frames });
 * ```
 */
export function writeImavatarDataset(
  out: string,
  data: { width: number; height: number; fx: number; fy: number; cx: number; cy: number; shape?: ArrayLike<number>; frames: ImavatarFrameInput[] },
): void {
  withIoErrors(out, () => writeImavatar(out, data));
}

function writeImavatar(out: string, data: Parameters<typeof writeImavatarDataset>[1]): void {
  const fn = 'writeImavatarDataset';
  if (typeof out !== 'string' || out.length === 0) throw new ValidationError(fn, 'out', 'an output folder path', out);
  if (!Array.isArray(data?.frames) || data.frames.length === 0) throw new ValidationError(fn, 'data.frames', 'a non-empty array', data?.frames);
  fs.mkdirSync(path.join(out, 'image'), { recursive: true });
  const frames = data.frames.map((f, i) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(f.id) || f.id.startsWith('.')) throw new ValidationError(fn, `data.frames[${i}].id`, 'a file-name-safe id', f.id);
    if (f.pose.length !== 15) throw new ValidationError(fn, `data.frames[${i}].pose`, '15 values', f.pose);
    const put = (dir: string, img: PngInput | string) => {
      fs.mkdirSync(path.join(out, dir), { recursive: true });
      const abs = path.join(out, dir, `${f.id}.png`);
      if (typeof img === 'string') fs.copyFileSync(img, abs);
      else writePng(abs, img);
    };
    put('image', f.image);
    if (f.mask !== undefined) put('mask', f.mask);
    const w2c = Array.from(invertRigid(Array.from(f.cameraToWorld, Number)));
    return {
      file_path: `./image/${f.id}`,
      world_mat: [w2c.slice(0, 4), w2c.slice(4, 8), w2c.slice(8, 12)],
      expression: Array.from(f.expression, (v) => Math.fround(v)),
      pose: Array.from(f.pose, (v) => Math.fround(v)),
    };
  });
  writeJsonAtomic(path.join(out, 'flame_params.json'), {
    intrinsics: [data.fx / data.width, data.fy / data.height, data.cx / data.width, data.cy / data.height],
    shape_params: data.shape ? Array.from(data.shape, (v) => Math.fround(v)) : [],
    frames,
  });
}
