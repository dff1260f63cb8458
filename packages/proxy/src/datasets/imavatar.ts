/**
 * IMAvatar layout, as zhengyuf/IMavatar's `preprocess/` writes it and `code/datasets/real_dataset.py` reads it
 * (docs/sources.md §datasets): `subject/subject/<sub_dir>/` per video, each with `image/%d.png` and `mask/%d.png`
 * (ffmpeg's numbering from 1; MODNet mattes) and its own `flame_params.json` (DECA `optimize.py`). Training and
 * test videos are different sub-folders (the conf's `dataset.train.sub_dir` / `dataset.test.sub_dir`).
 *
 * `flame_params.json`: `shape_params` (100), `intrinsics` = [−fx/size, fy/size, cx/size, cy/size] (an old format
 * used 512-pixel units, detected when cy > 1), and per frame `file_path` "./image/N", `world_mat` (3×4 world →
 * camera), `expression` (50), `pose` (15 = global, neck, jaw, eyes), `flame_keypoints`, `bbox`.
 *
 * Conventions, from `optimize.py`'s `projection` and `rend_util.lift`: the FLAME head is **scaled by 4**
 * (`verts_p *= 4`), the camera looks down **−z** with y up (OpenGL axes; `lift` uses z = −1), fx is stored
 * **negated**, and rays go through integer pixel indices (`np.mgrid`). The reader converts this to a camera for the
 * unscaled FLAME head: w2c = [R | t / 4] in OpenGL axes, fx = −intrinsics[0] · W (a negative result mirrors the x
 * axis, see {@link unmirrorFocal}), `pixelCenter: 0`.
 *
 * P = pose[0:3] ⊕ pose[6:9] (global ⊕ jaw); the full pose (with neck and eyes) poses the mesh (`renderPose`).
 * Frames are sorted numerically by their `%d` name within a folder (IMAvatar's `img_name`), train folders before
 * test folders.
 *
 * @example
 * ```ts
 * import { readImavatarDataset } from '@consistent-avatar/proxy';
 * const ds = readImavatarDataset('data/subject1/subject1', { trainDirs: ['MVI_1810', 'MVI_1814'], testDirs: ['MVI_1812'] });
 * console.log(ds.frames[0].pose?.length, ds.shape?.length, ds.split.test.length); // 6 100 …
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, describeValue, readJson, writeJsonAtomic, writePng, type PngInput } from '@consistent-avatar/core';
import { invertRigid } from '../raster/camera.js';
import {
  type AvatarDataset, type AvatarFrame, asObject, datasetFile, floatArrayField, frameImagePath, parseMatrix, sameFrameSize,
  resolveInside, splitLastFrames, unmirrorFocal,
  withIoErrors,
} from './common.js';

const FORMAT = 'imavatar';
/** IMAvatar's FLAME scale (`verts_p *= 4` in `optimize.py`). */
const IMAVATAR_FLAME_SCALE = 4;

/** Options of {@link readImavatarDataset}. */
export interface ReadImavatarOptions {
  /** Training sub-folders of `root` (IMAvatar's `dataset.train.sub_dir`). Default `['train']` when `root/train/` exists. */
  trainDirs?: string[];
  /** Test sub-folders of `root` (`dataset.test.sub_dir`). Default `['test']` when `root/test/` exists. */
  testDirs?: string[];
  /** Only for a single folder (`root` holds `flame_params.json`): the last `testFrames` are test. Default 350. */
  testFrames?: number;
  /** Only for a single folder: the last `valFrames` of test are val. Default 20. */
  valFrames?: number;
  /** The parameter file's name (IMAvatar's `json_name`). Default `flame_params.json`. */
  jsonName?: string;
}

/** One sub-folder's frames (sorted), shape and size. */
function readFolder(rootAbs: string, dir: string, jsonName: string, idPrefix: string): { frames: AvatarFrame[]; shape?: Float32Array; file: string; size: { width: number; height: number } } {
  const folder = dir === '' ? rootAbs : resolveInside(rootAbs, dir, path.join(rootAbs, jsonName), `sub-folder '${dir}'`, FORMAT);
  const file = path.join(folder, jsonName);
  if (!fs.existsSync(file)) throw new FormatError(FORMAT, file, `missing: every IMAvatar sub-folder has its own ${jsonName}`);
  const json = asObject(readJson(datasetFile(folder, jsonName, FORMAT)), file, 'the file', FORMAT);
  const intr = json.intrinsics;
  if (!Array.isArray(intr) || intr.length !== 4 || !intr.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new FormatError(FORMAT, file, "'intrinsics' should be [-fx, fy, cx, cy] (normalised by the image size)");
  const [ifx, ify, icx, icy] = intr as number[];
  if (ifx === 0 || ify === 0) throw new FormatError(FORMAT, file, `'intrinsics' focal lengths should be non-zero, got ${ifx}, ${ify}`);
  const shape = floatArrayField(json, 'shape_params', file, FORMAT, 'top level');
  if (!Array.isArray(json.frames) || json.frames.length === 0) throw new FormatError(FORMAT, file, "'frames' should be a non-empty array");
  let size: { width: number; height: number } | null = null;
  const numbered = json.frames.map((raw, i) => {
    const f = asObject(raw, file, `frames[${i}]`, FORMAT);
    const where = `frames[${i}]`;
    const stem = typeof f.file_path === 'string' ? f.file_path.split('/').pop()!.replace(/\.png$/i, '') : '';
    if (!/^\d+$/.test(stem)) throw new FormatError(FORMAT, file, `${where}.file_path should end in an integer frame number ('./image/12'), as IMAvatar's loader reads int(name); got ${describeValue(f.file_path)}`);
    const imagePath = frameImagePath(folder, f.file_path, file, where, FORMAT);
    size = sameFrameSize(size, imagePath, file, where, FORMAT);
    // Old format: intrinsics in 512-pixel units (cy > 1); new: normalised by the image size.
    const sx = icy! > 1 ? size.width / 512 : size.width, sy = icy! > 1 ? size.height / 512 : size.height;
    // world_mat: world (FLAME × 4) → camera, OpenGL axes. For the unscaled head: [R | t / 4].
    const w2c = parseMatrix(f.world_mat, file, `${where}.world_mat`, FORMAT, { rigid: false });
    for (let r = 0; r < 3; r++) w2c[r * 4 + 3] = w2c[r * 4 + 3]! / IMAVATAR_FLAME_SCALE;
    const cam = unmirrorFocal(-ifx! * sx, ify! * sy, invertRigid(w2c), file, `${where}.world_mat`, FORMAT);
    const frame: AvatarFrame = {
      id: `${idPrefix}${stem}`,
      imagePath,
      camera: { width: size.width, height: size.height, fx: cam.fx, fy: cam.fy, cx: icx! * sx, cy: icy! * sy, cameraToWorld: cam.cameraToWorld, convention: 'opengl', pixelCenter: 0 },
    };
    const expression = floatArrayField(f, 'expression', file, FORMAT, where);
    if (!expression) throw new FormatError(FORMAT, file, `${where}.expression is missing (50 FLAME expression values)`);
    frame.expression = expression;
    const pose = floatArrayField(f, 'pose', file, FORMAT, where);
    if (!pose || pose.length !== 15) throw new FormatError(FORMAT, file, `${where}.pose should have 15 values (global, neck, jaw, eyes), got ${pose ? pose.length : 'none'}`);
    frame.pose = Float32Array.from([...pose.subarray(0, 3), ...pose.subarray(6, 9)]); // global ⊕ jaw
    frame.renderPose = pose;
    // The mask: the image path with its folder named `image` replaced by `mask` (IMAvatar's loader); confined.
    const segments = path.relative(rootAbs, imagePath).split(path.sep);
    const imageDir = segments.lastIndexOf('image', segments.length - 2);
    if (imageDir >= 0) {
      segments[imageDir] = 'mask';
      const maskAbs = resolveInside(rootAbs, segments.join('/'), file, `${where} mask`, FORMAT);
      if (fs.existsSync(maskAbs) && fs.statSync(maskAbs).isFile()) {
        frame.maskPath = maskAbs;
        frame.mask = { gray: maskAbs };
      }
    }
    const extra: Record<string, unknown> = {};
    for (const key of ['flame_keypoints', 'bbox']) if (f[key] !== undefined) extra[key] = f[key];
    frame.extra = extra;
    return { n: Number(stem), frame };
  });
  numbered.sort((a, b) => a.n - b.n); // numeric: 2.png before 10.png
  return { frames: numbered.map((e) => e.frame), shape, file, size: size! };
}

/**
 * Read an IMAvatar dataset: a subject folder with train and test sub-folders (see the module docs), or one
 * sub-folder holding `flame_params.json` (then the split is the last `testFrames`).
 *
 * @example
 * ```ts
 * const ds = readImavatarDataset('data/subject1/subject1', { trainDirs: ['MVI_1810'], testDirs: ['MVI_1812'] });
 * ```
 */
export function readImavatarDataset(root: string, options: ReadImavatarOptions = {}): AvatarDataset {
  const fn = 'readImavatarDataset';
  if (typeof root !== 'string' || !fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new ValidationError(fn, 'root', 'an existing dataset folder', root);
  if (options == null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an options object', options);
  const jsonName = options.jsonName ?? 'flame_params.json';
  if (typeof jsonName !== 'string' || !/^[A-Za-z0-9_.-]+\.json$/.test(jsonName)) throw new ValidationError(fn, 'options.jsonName', 'a .json file name', jsonName);
  for (const k of ['trainDirs', 'testDirs'] as const) {
    const v = options[k];
    if (v !== undefined && (!Array.isArray(v) || v.length === 0 || v.some((d) => typeof d !== 'string' || d.length === 0))) throw new ValidationError(fn, `options.${k}`, 'a non-empty list of sub-folder names', v);
  }
  const rootAbs = path.resolve(root);
  const isDir = (d: string) => fs.existsSync(path.join(rootAbs, d)) && fs.statSync(path.join(rootAbs, d)).isDirectory();
  let trainDirs = options.trainDirs, testDirs = options.testDirs;
  if (!trainDirs && !testDirs && fs.existsSync(path.join(rootAbs, jsonName))) {
    const one = readFolder(rootAbs, '', jsonName, '');
    const testFrames = options.testFrames ?? 350;
    const ds: AvatarDataset = {
      format: 'imavatar', root: rootAbs, width: one.size.width, height: one.size.height, frames: one.frames,
      split: splitLastFrames(one.frames.length, testFrames, options.valFrames ?? 20),
      poseSource: "flame_params.json 'pose' [0:3] ⊕ [6:9] (global ⊕ jaw)", splitSource: `last ${testFrames} frames (a single sub-folder)`,
    };
    if (one.shape) ds.shape = one.shape;
    return ds;
  }
  trainDirs ??= isDir('train') ? ['train'] : undefined;
  testDirs ??= isDir('test') ? ['test'] : undefined;
  if (!trainDirs || !testDirs) {
    const withJson = fs.readdirSync(rootAbs).filter((d) => isDir(d) && fs.existsSync(path.join(rootAbs, d, jsonName)));
    throw new FormatError(FORMAT, rootAbs, `no ${jsonName} here and no ${!trainDirs ? 'train/' : 'test/'} sub-folder; sub-folders with a ${jsonName}: [${withJson.join(', ')}]: pass options.trainDirs and options.testDirs (IMAvatar's dataset.train.sub_dir / dataset.test.sub_dir)`);
  }
  const overlap = trainDirs.find((d) => testDirs!.includes(d));
  if (overlap) throw new ValidationError(fn, 'options.testDirs', 'sub-folders that are not also training ones', overlap);
  const parts = [...trainDirs.map((d) => ({ d, test: false })), ...testDirs.map((d) => ({ d, test: true }))].map(({ d, test }) => ({ test, ...readFolder(rootAbs, d, jsonName, `${d.replace(/[^A-Za-z0-9_.-]/g, '_')}-`) }));
  const first = parts[0]!;
  for (const p of parts) {
    if (p.size.width !== first.size.width || p.size.height !== first.size.height) throw new FormatError(FORMAT, p.file, `images are ${p.size.width}×${p.size.height}, those of ${first.file} ${first.size.width}×${first.size.height}`);
    const a = first.shape, b = p.shape;
    if ((a === undefined) !== (b === undefined) || (a && b && (a.length !== b.length || a.some((v, i) => Math.abs(v - b[i]!) > 1e-6)))) {
      throw new FormatError(FORMAT, p.file, `'shape_params' differ from those of ${first.file} (IMAvatar shares one shape across a subject's videos)`);
    }
  }
  const frames: AvatarFrame[] = [];
  const split = { train: [] as number[], test: [] as number[], val: [] as number[] };
  for (const p of parts) for (const f of p.frames) (p.test ? split.test : split.train).push(frames.push(f) - 1);
  const ds: AvatarDataset = {
    format: 'imavatar', root: rootAbs, width: first.size.width, height: first.size.height, frames, split,
    poseSource: `${jsonName} 'pose' [0:3] ⊕ [6:9] (global ⊕ jaw)`, splitSource: `train: ${trainDirs.join(', ')}; test: ${testDirs.join(', ')}`,
  };
  if (first.shape) ds.shape = first.shape;
  return ds;
}

/** One frame for {@link writeImavatarDataset}. */
export interface ImavatarFrameInput {
  /** The frame number (IMAvatar names images `%d.png`). */
  id: string;
  image: PngInput | string;
  mask?: PngInput | string;
  /** Camera-to-world of the unscaled head, OpenCV axes. */
  cameraToWorld: ArrayLike<number>;
  /** 50 expression values (any length is written as given). */
  expression: ArrayLike<number>;
  /** 15 pose values (global, neck, jaw, eyes). */
  pose: ArrayLike<number>;
}

/**
 * Write one IMAvatar sub-folder in IMAvatar's conventions: `image/N.png`, `mask/N.png`, `flame_params.json` with
 * `world_mat` = the OpenGL-axes world → camera of the head scaled by 4, and `intrinsics` = [−fx, fy, cx, cy] / size.
 * `fx, fy, cx, cy` are pixels in the integer-centre convention (`pixelCenter: 0`), as IMAvatar's.
 *
 * @example
 * ```ts
 * writeImavatarDataset('out/subject/subject/train', { width: 128, height: 128, fx: 250, fy: 250, cx: 63.5, cy: 63.5, shape, frames });
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
  for (const k of ['width', 'height'] as const) if (!Number.isInteger(data[k]) || data[k] <= 0) throw new ValidationError(fn, `data.${k}`, 'a positive integer', data[k]);
  fs.mkdirSync(path.join(out, 'image'), { recursive: true });
  const frames = data.frames.map((f, i) => {
    if (typeof f.id !== 'string' || !/^\d+$/.test(f.id)) throw new ValidationError(fn, `data.frames[${i}].id`, "a frame number ('12'): IMAvatar names images %d.png", f.id);
    if (f.pose?.length !== 15) throw new ValidationError(fn, `data.frames[${i}].pose`, '15 values', f.pose);
    const put = (dir: string, img: PngInput | string) => {
      fs.mkdirSync(path.join(out, dir), { recursive: true });
      const abs = path.join(out, dir, `${f.id}.png`);
      if (typeof img === 'string') fs.copyFileSync(img, abs);
      else writePng(abs, img);
    };
    put('image', f.image);
    if (f.mask !== undefined) put('mask', f.mask);
    // OpenCV w2c → OpenGL axes (negate the y and z rows), translation × 4 for the scaled head.
    const w2c = Array.from(invertRigid(Array.from(f.cameraToWorld, Number)));
    for (let c = 0; c < 4; c++) for (const r of [1, 2]) w2c[r * 4 + c] = -w2c[r * 4 + c]!;
    for (let r = 0; r < 3; r++) w2c[r * 4 + 3] = w2c[r * 4 + 3]! * IMAVATAR_FLAME_SCALE;
    return {
      file_path: `./image/${f.id}`,
      world_mat: [w2c.slice(0, 4), w2c.slice(4, 8), w2c.slice(8, 12)],
      expression: Array.from(f.expression, (v) => Math.fround(v)),
      pose: Array.from(f.pose, (v) => Math.fround(v)),
    };
  });
  writeJsonAtomic(path.join(out, 'flame_params.json'), {
    intrinsics: [-data.fx / data.width, data.fy / data.height, data.cx / data.width, data.cy / data.height],
    shape_params: data.shape ? Array.from(data.shape, (v) => Math.fround(v)) : [],
    frames,
  });
}
