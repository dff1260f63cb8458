/**
 * INSTA layout, as Zielon/INSTA's `scripts/transforms.py` (+ `generate.sh`: face parsing, matting,
 * `postprocess.py`) writes it from Zielon/metrical-tracker's output (docs/sources.md §datasets):
 *
 * - `transforms.json` (all frames) and the split files `transforms_train.json` (all but the last `-t` frames),
 *   `transforms_test.json` (the last `-t`, default 350) and `transforms_val.json` (the last 20). Top level `w, h,
 *   fl_x, fl_y, cx, cy` (pixels), `camera_angle_x/y`, `x_fov`, `y_fov`, `integer_depth_scale` (1/1000).
 * - Per frame: `transform_matrix` (camera-to-world in **OpenCV** axes: inv([R|t]) of the tracker's OpenCV extrinsics),
 *   `file_path` "images/ID.png" (**RGBA**: Robust Video Matting's alpha, cloth removed), `exp_path`
 *   "flame/exp/ID.txt" (the tracker's 100 expression values, one per line), `seg_mask_path` "seg_mask/ID.png"
 *   (a face-parsing **label map**, class code in the red channel: see `masks.ts`), `mesh_path` "meshes/ID.obj"
 *   (the tracked mesh re-topologised by `simplification.py`), `depth_path` "depth/ID.png" (16-bit, ×
 *   `integer_depth_scale` = metres; the file may be absent). `canonical.obj` sits next to the transforms.
 *
 * What the reader takes:
 * - **Split**: the membership of `transforms_train.json` / `transforms_test.json` / `transforms_val.json` (INSTA
 *   writes no `test_frames` field). Only a folder without split files falls back to "the last `testFrames`".
 * - **Mask**: the image's alpha × (label ∈ `maskClasses`) — see {@link readFrameMask}.
 * - **P = global ⊕ jaw** (axis-angle). INSTA's transforms carry the expression only: metrical-tracker keeps FLAME's
 *   global rotation at identity and moves the camera, and optimises the jaw as a 6D rotation. So, in this order:
 *   1. `flame/pose/ID.txt` (or a frame's `pose_path`): our extension, 6 values (global ⊕ jaw) or 15 (full pose);
 *      written by {@link writeInstaDataset} and by trackers that estimate the head rotation in FLAME.
 *   2. Otherwise the global rotation is the camera's rotation relative to the canonical frontal camera
 *      ({@link headRotationFromCamera}) and the jaw is `flame/jaw/ID.txt` — the tracker's `jaw` as INSTA's
 *      `dump_flame` writes it when 'jaw' is in its parameter list (6 values, 6D rotation; 3 values are read as
 *      axis-angle); `flame/eyes/ID.txt` (12, two 6D rotations) poses the eyes when present. The mesh is then posed
 *      with global rotation 0 under the tracked camera (`renderPose`), which is where the tracker put it.
 *   3. Neither: a FormatError naming the missing files. The meshes are not used for P: `simplification.py`
 *      re-topologises them (no FLAME joints to read the jaw from).
 *   `ds.poseSource` says which was used.
 * - `mesh_path`, `depth_path` and `integer_depth_scale` are recorded in `frame.extra` (`meshPath`, `depthPath`,
 *   `depthScale`; paths confined to the folder, files not required) and not used by stage 1, which fits the proxy
 *   photometrically; `canonical.obj` (INSTA's canonical mesh for its deformation field) is ignored for the same
 *   reason. `emotion` (a MEAD label) is our extension.
 *
 * Frames are sorted by `file_path` (INSTA writes them in completion order; its loader sorts by `mesh_path`, the same
 * ids).
 *
 * @example
 * ```ts
 * import { readInstaDataset } from '@consistent-avatar/proxy';
 * const ds = readInstaDataset('data/obama');
 * console.log(ds.split.test.length, ds.poseSource, ds.frames[0].pose); // 350 'camera + flame/jaw' Float32Array(6)
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkFinite, FormatError, ValidationError, readJson, tf, writeFileAtomic, writeJsonAtomic, writePng, type PngInput } from '@consistent-avatar/core';
import { invertRigid } from '../raster/camera.js';
import {
  type AvatarDataset, type AvatarFrame, asObject, datasetFile, numberField, parseMatrix, pngHasAlpha, pngSize, readFloatText, requireFile,
  resolveInside, splitLastFrames,
  withIoErrors,
} from './common.js';
import { INSTA_FACE_PARSING_LABELS, INSTA_HEAD_CLASSES, faceParsingCodes, type FaceParsingClass } from './masks.js';
import { axisAngleToMatrix, matrixToAxisAngle, matrixToRotation6d, rotation6dToMatrix } from './rotation.js';

/** Options of {@link readInstaDataset}. */
export interface ReadInstaOptions {
  /** Only for a folder without split files: the last `testFrames` frames (path order) are test. Default 350. */
  testFrames?: number;
  /** Only for a folder without split files: the last `valFrames` of test are val. Default 20 (INSTA). */
  valFrames?: number;
  /** Face-parsing classes counted as foreground in `seg_mask` label maps. Default {@link INSTA_HEAD_CLASSES}. */
  maskClasses?: readonly FaceParsingClass[];
}

const FORMAT = 'insta';
const SPLIT_FILES = { train: 'transforms_train.json', test: 'transforms_test.json', val: 'transforms_val.json' } as const;

/** metrical-tracker's canonical camera in OpenCV axes: in front of the face (+z), looking down −z, image y down. */
const CANONICAL_W2C_ROTATION = [1, 0, 0, 0, -1, 0, 0, 0, -1];

/**
 * The head's global rotation (axis-angle) implied by a tracked camera: R_head = R_canonicalᵀ · R_w2c, where
 * R_w2c is the world→camera rotation (OpenCV axes) and R_canonical = diag(1, −1, −1) the frontal camera of
 * metrical-tracker's canonical frame (FLAME faces +z with y up). Rendering the mesh rotated by R_head under the
 * canonical camera shows it as the tracked camera does (up to a translation).
 *
 * @param cameraToWorld - row-major 4×4, OpenCV axes (INSTA's `transform_matrix`).
 * @example
 * ```ts
 * headRotationFromCamera([1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 1, 0, 0, 0, 1]); // [0, 0, 0]: the frontal camera at z = 1
 * ```
 */
export function headRotationFromCamera(cameraToWorld: ArrayLike<number>): Float64Array {
  if (!cameraToWorld || cameraToWorld.length !== 16) throw new ValidationError('headRotationFromCamera', 'cameraToWorld', 'a row-major 4×4 matrix (16 numbers)', cameraToWorld);
  checkFinite('headRotationFromCamera', 'cameraToWorld', cameraToWorld);
  const w2c = invertRigid(cameraToWorld);
  const r = new Float64Array(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let v = 0;
      for (let k = 0; k < 3; k++) v += CANONICAL_W2C_ROTATION[k * 3 + i]! * w2c[k * 4 + j]!; // R_canᵀ · R_w2c
      r[i * 3 + j] = v;
    }
  }
  return matrixToAxisAngle(r);
}

interface RawFrame { raw: Record<string, unknown>; file: string; index: number }

/** The frames and split membership of the transforms files (see the module docs). */
function loadTransforms(root: string): { file: string; top: Record<string, unknown>; frames: RawFrame[]; members: Record<'train' | 'test' | 'val', Set<string>> | null } {
  const all = path.join(root, 'transforms.json');
  const present = (name: string) => fs.existsSync(path.join(root, name));
  const hasSplit = Object.values(SPLIT_FILES).some(present);
  if (!present('transforms.json') && !hasSplit) {
    const hint = present('flame_params.json') || fs.readdirSync(root).some((d) => fs.existsSync(path.join(root, d, 'flame_params.json'))) ? ' (flame_params.json: an IMAvatar folder, use readImavatarDataset)' : '';
    throw new FormatError(FORMAT, root, `not an INSTA folder: no transforms.json and no transforms_{train,test,val}.json${hint}`);
  }
  const read = (name: string) => {
    const file = path.join(root, name);
    const json = asObject(readJson(datasetFile(root, name, FORMAT)), file, 'the file', FORMAT);
    if (json.fl_x === undefined && Array.isArray(json.intrinsics)) throw new FormatError(FORMAT, file, "no 'fl_x' but an 'intrinsics' array: a NeRFace folder, not INSTA (use readNerfaceDataset)");
    if (!Array.isArray(json.frames)) throw new FormatError(FORMAT, file, "'frames' should be an array");
    const frames = json.frames.map((f, i): RawFrame => ({ raw: asObject(f, file, `frames[${i}]`, FORMAT), file, index: i }));
    const seen = new Set<string>();
    for (const f of frames) {
      const key = f.raw.file_path;
      if (typeof key !== 'string') throw new FormatError(FORMAT, file, `frames[${f.index}].file_path should be a relative path string`);
      if (seen.has(key)) throw new FormatError(FORMAT, file, `frames[${f.index}]: duplicate file_path '${key.slice(0, 200)}'`);
      seen.add(key);
    }
    return { file, json, frames };
  };
  if (!hasSplit) {
    const { json, frames } = read('transforms.json');
    return { file: all, top: json, frames, members: null };
  }
  for (const name of [SPLIT_FILES.train, SPLIT_FILES.test]) {
    if (!present(name)) {
      const other = name === SPLIT_FILES.train ? SPLIT_FILES.test : SPLIT_FILES.train;
      throw new FormatError(FORMAT, path.join(root, name), `missing split file (${present(other) ? other : SPLIT_FILES.val} is there; INSTA's scripts/transforms.py writes transforms_train.json and transforms_test.json together)`);
    }
  }
  const split = { train: read(SPLIT_FILES.train), test: read(SPLIT_FILES.test), val: present(SPLIT_FILES.val) ? read(SPLIT_FILES.val) : null };
  const members = {
    train: new Set(split.train.frames.map((f) => f.raw.file_path as string)),
    test: new Set(split.test.frames.map((f) => f.raw.file_path as string)),
    val: new Set((split.val?.frames ?? []).map((f) => f.raw.file_path as string)),
  };
  const overlap = [...members.train].find((k) => members.test.has(k));
  if (overlap !== undefined) throw new FormatError(FORMAT, split.test.file, `frame '${overlap.slice(0, 200)}' is in both transforms_train.json and transforms_test.json`);
  if (present('transforms.json')) {
    const whole = read('transforms.json');
    const keys = new Set(whole.frames.map((f) => f.raw.file_path as string));
    for (const s of [split.train, split.test, ...(split.val ? [split.val] : [])]) {
      for (const f of s.frames) {
        if (!keys.has(f.raw.file_path as string)) throw new FormatError(FORMAT, s.file, `frames[${f.index}].file_path '${String(f.raw.file_path).slice(0, 200)}' is not in transforms.json`);
      }
    }
    if (members.train.size + members.test.size !== keys.size) {
      throw new FormatError(FORMAT, all, `mismatched frame counts: transforms.json has ${keys.size} frames, transforms_train.json ${members.train.size} + transforms_test.json ${members.test.size} = ${members.train.size + members.test.size}`);
    }
    return { file: all, top: whole.json, frames: whole.frames, members };
  }
  // No transforms.json: the union of the split files (INSTA's val is the end of test; a val frame outside test is kept).
  const frames = [...split.train.frames, ...split.test.frames, ...(split.val?.frames.filter((f) => !members.test.has(f.raw.file_path as string)) ?? [])];
  return { file: split.train.file, top: split.train.json, frames, members };
}

/** An optional file of a frame: the JSON field when given, else the conventional path when it exists. */
function optionalFile(root: string, raw: Record<string, unknown>, field: string, conventional: string, src: string, where: string): string | undefined {
  const rel = raw[field] ?? (fs.existsSync(path.join(root, conventional)) ? conventional : undefined);
  if (rel === undefined) return undefined;
  const abs = resolveInside(root, rel, src, `${where}.${field}`, FORMAT);
  requireFile(abs, src, `${where}.${field}`, FORMAT);
  return abs;
}

/** A rotation file of the tracker: 6 values (6D rotation) or 3 (axis-angle) → axis-angle. */
function readRotation(abs: string): number[] {
  const v = readFloatText(abs, FORMAT);
  if (v.length === 3) return Array.from(v);
  if (v.length === 6) return Array.from(matrixToAxisAngle(rotation6dToMatrix(v)));
  throw new FormatError(FORMAT, abs, `should hold a rotation: 6 values (metrical-tracker's 6D rotation) or 3 (axis-angle), got ${v.length}`);
}

/**
 * Read an INSTA-layout dataset (see the module docs). Validates the JSON, that every referenced file exists, and
 * that no path leaves the folder.
 *
 * @param root - the actor folder (holding `transforms*.json`, `images/`, `seg_mask/`, `flame/`).
 * @example
 * ```ts
 * const ds = readInstaDataset('data/actor', { maskClasses: ['skin', 'nose', 'upperLip', 'lowerLip'] });
 * console.log(ds.splitSource, ds.poseSource);
 * ```
 */
export function readInstaDataset(root: string, options: ReadInstaOptions = {}): AvatarDataset {
  const fn = 'readInstaDataset';
  if (typeof root !== 'string' || root.length === 0) throw new ValidationError(fn, 'root', 'a dataset folder path', root);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new ValidationError(fn, 'root', 'an existing folder', root);
  if (options == null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an options object', options);
  const keep = faceParsingCodes(options.maskClasses ?? INSTA_HEAD_CLASSES, fn, 'options.maskClasses');
  const rootAbs = path.resolve(root);
  const { file, top, frames: rawFrames, members } = loadTransforms(rootAbs);
  const width = numberField(top, 'w', file, FORMAT);
  const height = numberField(top, 'h', file, FORMAT);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new FormatError(FORMAT, file, `'w' and 'h' should be positive integers`);
  const fx = numberField(top, 'fl_x', file, FORMAT), fy = numberField(top, 'fl_y', file, FORMAT);
  const cx = numberField(top, 'cx', file, FORMAT), cy = numberField(top, 'cy', file, FORMAT);
  if (!(fx > 0) || !(fy > 0)) throw new FormatError(FORMAT, file, `'fl_x' and 'fl_y' should be focal lengths > 0 in pixels, got ${fx} and ${fy}`);
  const depthScale = top.integer_depth_scale === undefined ? undefined : numberField(top, 'integer_depth_scale', file, FORMAT);
  if (rawFrames.length === 0) throw new FormatError(FORMAT, file, "'frames' is empty");
  const poseKinds = new Set<string>();
  const frames: (AvatarFrame & { key: string })[] = rawFrames.map(({ raw, file: src, index }) => {
    const where = `frames[${index}]`;
    const imagePath = resolveInside(rootAbs, raw.file_path, src, `${where}.file_path`, FORMAT);
    requireFile(imagePath, src, `${where}.file_path`, FORMAT);
    // The declared size must be the images' (it sizes every render and buffer downstream).
    const size = pngSize(imagePath, FORMAT);
    if (size.width !== width || size.height !== height) {
      throw new FormatError(FORMAT, src, `${where}.file_path is a ${size.width}×${size.height} image, but 'w' × 'h' is ${width}×${height}`);
    }
    const id = path.basename(imagePath).replace(/\.[^.]+$/, '');
    const cameraToWorld = parseMatrix(raw.transform_matrix, src, `${where}.transform_matrix`, FORMAT);
    const frame: AvatarFrame & { key: string } = {
      key: raw.file_path as string, id, imagePath,
      camera: { width, height, fx, fy, cx, cy, cameraToWorld, convention: 'opencv' },
    };
    // Expression: the tracker's exp file (required: stage 2 conditions on it).
    const expPath = optionalFile(rootAbs, raw, 'exp_path', `flame/exp/${id}.txt`, src, where);
    if (!expPath) throw new FormatError(FORMAT, src, `${where} (${raw.file_path as string}): no expression: neither 'exp_path' nor flame/exp/${id}.txt`);
    frame.expression = readFloatText(expPath, FORMAT);
    // P (see the module docs, steps 1–3).
    const posePath = optionalFile(rootAbs, raw, 'pose_path', `flame/pose/${id}.txt`, src, where);
    if (posePath) {
      const pose = readFloatText(posePath, FORMAT);
      if (pose.length === 6) frame.pose = pose;
      else if (pose.length === 15) {
        frame.pose = Float32Array.from([...pose.subarray(0, 3), ...pose.subarray(6, 9)]);
        frame.renderPose = pose;
      } else throw new FormatError(FORMAT, posePath, `${where}: a pose file should hold 6 values (global ⊕ jaw) or 15 (full FLAME pose), got ${pose.length}`);
      poseKinds.add('flame/pose files');
    } else {
      const jawPath = path.join(rootAbs, 'flame', 'jaw', `${id}.txt`);
      if (!fs.existsSync(jawPath)) {
        throw new FormatError(FORMAT, src, `${where} (${raw.file_path as string}): no head pose: INSTA's transforms carry the expression only; expected the tracker's jaw flame/jaw/${id}.txt (6D rotation, written by INSTA's scripts/transforms.py dump_flame with 'jaw' in its params; the head rotation is then read from the camera) or flame/pose/${id}.txt (6 values: global ⊕ jaw)`);
      }
      const jaw = readRotation(datasetFile(rootAbs, `flame/jaw/${id}.txt`, FORMAT));
      const global = headRotationFromCamera(cameraToWorld);
      frame.pose = Float32Array.from([...global, ...jaw]);
      const renderPose = new Float32Array(15);
      renderPose.set(jaw, 6);
      const eyesPath = path.join(rootAbs, 'flame', 'eyes', `${id}.txt`);
      if (fs.existsSync(eyesPath)) {
        const eyes = readFloatText(datasetFile(rootAbs, `flame/eyes/${id}.txt`, FORMAT), FORMAT);
        if (eyes.length !== 12) throw new FormatError(FORMAT, eyesPath, `should hold two 6D rotations (12 values), got ${eyes.length}`);
        renderPose.set(matrixToAxisAngle(rotation6dToMatrix(eyes.subarray(0, 6))), 9);
        renderPose.set(matrixToAxisAngle(rotation6dToMatrix(eyes.subarray(6, 12))), 12);
      }
      frame.renderPose = renderPose;
      poseKinds.add('camera + flame/jaw');
    }
    // Mask: the image's alpha × the label map's head classes.
    const segPath = raw.seg_mask_path === undefined ? undefined : optionalFile(rootAbs, raw, 'seg_mask_path', '', src, where);
    const alpha = pngHasAlpha(imagePath, FORMAT);
    if (segPath) frame.maskPath = segPath;
    if (segPath || alpha) frame.mask = { ...(alpha ? { alpha: true } : {}), ...(segPath ? { labelMap: { path: segPath, keep } } : {}) };
    const extra: Record<string, unknown> = {};
    if (raw.mesh_path !== undefined) extra.meshPath = resolveInside(rootAbs, raw.mesh_path, src, `${where}.mesh_path`, FORMAT);
    if (raw.depth_path !== undefined) extra.depthPath = resolveInside(rootAbs, raw.depth_path, src, `${where}.depth_path`, FORMAT);
    if (depthScale !== undefined) extra.depthScale = depthScale;
    if (Object.keys(extra).length > 0) frame.extra = extra;
    if (raw.emotion !== undefined) {
      if (typeof raw.emotion !== 'string') throw new FormatError(FORMAT, src, `${where}.emotion should be a string`);
      frame.emotion = raw.emotion;
    }
    return frame;
  });
  if (poseKinds.size > 1) throw new FormatError(FORMAT, rootAbs, `some frames have flame/pose files and others only flame/jaw files: give every frame the same kind`);
  frames.sort((a, b) => (a.imagePath < b.imagePath ? -1 : a.imagePath > b.imagePath ? 1 : 0));
  const lengths = new Set(frames.map((f) => f.expression!.length));
  if (lengths.size > 1) throw new FormatError(FORMAT, file, `expression files have different lengths (${[...lengths].join(', ')})`);
  let split: AvatarDataset['split'];
  let splitSource: string;
  if (members) {
    const pick = (set: Set<string>) => frames.flatMap((f, i) => (set.has(f.key) ? [i] : []));
    split = { train: pick(members.train), test: pick(members.test), val: pick(members.val) };
    splitSource = 'transforms_train.json / transforms_test.json' + (members.val.size > 0 ? ' / transforms_val.json' : '');
  } else {
    const testFrames = options.testFrames ?? 350;
    split = splitLastFrames(frames.length, testFrames, options.valFrames ?? 20);
    splitSource = `last ${testFrames} frames (no split files)`;
  }
  const out = frames.map(({ key: _key, ...f }) => f);
  return { format: 'insta', root: rootAbs, width, height, frames: out, split, poseSource: [...poseKinds][0]!, splitSource };
}

/** One frame to write with {@link writeInstaDataset}. */
export interface InstaFrameInput {
  /** Frame id, used as the file stem (`'00042'`). */
  id: string;
  /** The image (float [0, 1] RGB, e.g. a rasterizer output or `readPng`), or an existing PNG file to copy. */
  image: PngInput | string;
  /**
   * Foreground (head) mask in [0, 1], 1 channel. Written as the image's alpha (RGBA, as INSTA's matting) and, when
   * `segMask` is not given, as a label map with the skin class (250) wherever it is > 0. Needs an in-memory `image`.
   */
  mask?: PngInput;
  /** A face-parsing label map (class code in the red channel, see `INSTA_FACE_PARSING_LABELS`), or a PNG to copy. */
  segMask?: PngInput | string;
  /** Camera-to-world, OpenCV axes, row-major 16 numbers (INSTA's `transform_matrix`). */
  cameraToWorld: ArrayLike<number>;
  /** Tracked expression (INSTA: 100 values) → `flame/exp/ID.txt`. */
  expression?: ArrayLike<number>;
  /**
   * Paper pose (6: global ⊕ jaw, axis-angle) → `flame/pose/ID.txt` (our extension) and the jaw as the tracker's 6D
   * rotation → `flame/jaw/ID.txt` (what INSTA's `dump_flame` writes with 'jaw' in its params).
   */
  pose?: ArrayLike<number>;
  /** A MEAD emotion label (our extension). */
  emotion?: string;
}

/** What {@link writeInstaDataset} needs. */
export interface InstaDatasetInput {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  frames: InstaFrameInput[];
  /** Test frames (the last ones) for the split files, as `transforms.py -t`. Default 350 (must be fewer than the frames). */
  testFrames?: number;
  /** Val frames (the last ones). Default 20 (INSTA). */
  valFrames?: number;
  /** Extra top-level fields (e.g. `{ synthetic: true }`). */
  extra?: Record<string, unknown>;
}

/** An in-memory image (tensor [H, W] / [H, W, C] or {width, height, channels, data}) as {width, height, channels, data}. */
function imageData(fn: string, arg: string, image: PngInput): { width: number; height: number; channels: number; data: ArrayLike<number> } {
  if (image instanceof tf.Tensor) {
    if (image.isDisposed || (image.rank !== 2 && image.rank !== 3)) throw new ValidationError(fn, arg, 'an undisposed tensor [H, W] or [H, W, C]', image);
    return { height: image.shape[0]!, width: image.shape[1]!, channels: image.rank === 3 ? image.shape[2]! : 1, data: image.dataSync() };
  }
  const img = image as { width: number; height: number; channels: number; data: ArrayLike<number> };
  if (!img || !Number.isInteger(img.width) || !Number.isInteger(img.height) || !img.data || img.data.length !== img.width * img.height * img.channels) {
    throw new ValidationError(fn, arg, 'an image { width, height, channels, data } with width × height × channels values', image);
  }
  return img;
}

/** Shortest decimal that reads back to the same float32, one value per line (INSTA's `np.savetxt` layout). */
function floatLines(values: ArrayLike<number>): string {
  return Array.from(values, (v) => String(Math.fround(v))).join('\n') + '\n';
}

/**
 * Write an INSTA-layout dataset as INSTA's `scripts/transforms.py` + `generate.sh` lay it out: `images/ID.png` (RGBA
 * when a mask is given), `seg_mask/ID.png` (label map), `flame/exp/ID.txt`, `flame/jaw/ID.txt` (6D), our
 * `flame/pose/ID.txt`, `transforms_train.json`, `transforms_test.json`, `transforms_val.json` and — last, so a
 * complete-looking folder is a complete one — `transforms.json`. Meshes and depth maps are not written (no
 * `mesh_path` / `depth_path`). Numbers in the text files are the shortest decimals that read back to the same
 * float32.
 *
 * @param out - the actor folder (created).
 * @example
 * ```ts
 * writeInstaDataset('out/ds', {
 *   width: 128, height: 128, fx: 250, fy: 250, cx: 64, cy: 64, testFrames: 20,
 *   frames: [{ id: '00000', image: rgb, mask, cameraToWorld, expression, pose }],
 * });
 * ```
 */
export function writeInstaDataset(out: string, data: InstaDatasetInput): void {
  withIoErrors(out, () => writeInsta(out, data));
}

function writeInsta(out: string, data: InstaDatasetInput): void {
  const fn = 'writeInstaDataset';
  if (typeof out !== 'string' || out.length === 0) throw new ValidationError(fn, 'out', 'an output folder path', out);
  if (!data || !Array.isArray(data.frames) || data.frames.length === 0) throw new ValidationError(fn, 'data.frames', 'a non-empty array of frames', data?.frames);
  for (const k of ['width', 'height'] as const) if (!Number.isInteger(data[k]) || data[k] <= 0) throw new ValidationError(fn, `data.${k}`, 'a positive integer', data[k]);
  for (const k of ['fx', 'fy', 'cx', 'cy'] as const) if (!Number.isFinite(data[k])) throw new ValidationError(fn, `data.${k}`, 'a finite number', data[k]);
  const ids = new Set<string>();
  for (const [i, f] of data.frames.entries()) {
    if (typeof f.id !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(f.id) || f.id.startsWith('.')) throw new ValidationError(fn, `data.frames[${i}].id`, 'a file-name-safe id (letters, digits, _ . -)', f.id);
    if (ids.has(f.id)) throw new ValidationError(fn, `data.frames[${i}].id`, 'a unique id', f.id);
    ids.add(f.id);
    if (!f.cameraToWorld || f.cameraToWorld.length !== 16) throw new ValidationError(fn, `data.frames[${i}].cameraToWorld`, '16 numbers (row-major 4×4)', f.cameraToWorld);
    if (f.mask !== undefined && typeof f.image === 'string') throw new ValidationError(fn, `data.frames[${i}].image`, 'an in-memory image when a mask is given (the mask becomes its alpha)', f.image);
    if (f.pose !== undefined && f.pose.length !== 6) throw new ValidationError(fn, `data.frames[${i}].pose`, '6 values (global ⊕ jaw)', f.pose);
  }
  const testFrames = data.testFrames ?? 350;
  const split = splitLastFrames(data.frames.length, testFrames, data.valFrames ?? 20);
  fs.mkdirSync(path.join(out, 'images'), { recursive: true });
  const put = (rel: string, img: PngInput | string) => {
    const abs = path.join(out, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof img === 'string') fs.copyFileSync(img, abs);
    else writePng(abs, img);
  };
  const text = (rel: string, values: ArrayLike<number>) => {
    fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
    writeFileAtomic(path.join(out, rel), floatLines(values));
  };
  const frameJson = data.frames.map((f, i) => {
    const entry: Record<string, unknown> = { file_path: `images/${f.id}.png` };
    if (f.mask !== undefined) {
      const rgb = imageData(fn, `data.frames[${i}].image`, f.image as PngInput);
      const mask = imageData(fn, `data.frames[${i}].mask`, f.mask);
      if (rgb.channels !== 3 || mask.channels !== 1 || rgb.width !== mask.width || rgb.height !== mask.height) {
        throw new ValidationError(fn, `data.frames[${i}].mask`, `a 1-channel mask of the RGB image's size (${rgb.width}×${rgb.height})`, `${mask.channels} channels, ${mask.width}×${mask.height}`);
      }
      const n = rgb.width * rgb.height;
      const rgba = new Float32Array(n * 4); // [H, W, 4]: RGB + alpha = mask
      for (let p = 0; p < n; p++) {
        rgba[p * 4] = rgb.data[p * 3]!;
        rgba[p * 4 + 1] = rgb.data[p * 3 + 1]!;
        rgba[p * 4 + 2] = rgb.data[p * 3 + 2]!;
        rgba[p * 4 + 3] = mask.data[p]!;
      }
      put(`images/${f.id}.png`, { width: rgb.width, height: rgb.height, channels: 4, data: rgba });
      if (f.segMask === undefined) {
        const labels = new Float32Array(n * 3); // [H, W, 3]: red = class code, green = blue = 0
        for (let p = 0; p < n; p++) if (mask.data[p]! > 0) labels[p * 3] = INSTA_FACE_PARSING_LABELS.skin / 255;
        put(`seg_mask/${f.id}.png`, { width: rgb.width, height: rgb.height, channels: 3, data: labels });
        entry.seg_mask_path = `seg_mask/${f.id}.png`;
      }
    } else {
      put(`images/${f.id}.png`, f.image);
    }
    if (f.segMask !== undefined) {
      put(`seg_mask/${f.id}.png`, f.segMask);
      entry.seg_mask_path = `seg_mask/${f.id}.png`;
    }
    const m = Array.from(f.cameraToWorld, Number);
    entry.transform_matrix = [m.slice(0, 4), m.slice(4, 8), m.slice(8, 12), m.slice(12, 16)];
    if (f.expression) {
      text(`flame/exp/${f.id}.txt`, f.expression);
      entry.exp_path = `flame/exp/${f.id}.txt`;
    }
    if (f.pose) {
      text(`flame/pose/${f.id}.txt`, f.pose);
      text(`flame/jaw/${f.id}.txt`, matrixToRotation6d(axisAngleToMatrix(Array.from(f.pose).slice(3, 6))));
    }
    if (f.emotion !== undefined) entry.emotion = f.emotion;
    return entry;
  });
  const angleX = 2 * Math.atan(data.width / (2 * data.fx)), angleY = 2 * Math.atan(data.height / (2 * data.fy));
  const top = {
    w: data.width, h: data.height, fl_x: data.fx, fl_y: data.fy, cx: data.cx, cy: data.cy,
    camera_angle_x: angleX, camera_angle_y: angleY, x_fov: (angleX * 180) / Math.PI, y_fov: (angleY * 180) / Math.PI,
    integer_depth_scale: 1 / 1000,
    ...(data.extra ?? {}),
  };
  // The split files first, `transforms.json` (the complete-dataset marker) last.
  for (const [name, idx] of Object.entries(split)) writeJsonAtomic(path.join(out, `transforms_${name}.json`), { ...top, frames: idx.map((i) => frameJson[i]) });
  writeJsonAtomic(path.join(out, 'transforms.json'), { ...top, frames: frameJson });
}
