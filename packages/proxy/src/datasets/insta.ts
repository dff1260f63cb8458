/**
 * INSTA layout (Zielon/INSTA `scripts/transforms.py`, Zielon/INSTA-pytorch `insta/provider.py`;
 * docs/sources.md §datasets): `transforms{,_train,_test,_val}.json` with `w, h, fl_x, fl_y, cx, cy` (pixels) and
 * per-frame `transform_matrix` (camera-to-world, **OpenCV** axes: c2w = inv([R|t]) of the tracker's OpenCV
 * extrinsics), `file_path` "images/ID.png", `exp_path` "flame/exp/ID.txt" (tracked expression, 100 values),
 * `seg_mask_path` (the loader takes channel 2). Our extension, ignored by INSTA's own tools:
 * `pose_path` "flame/pose/ID.txt" (paper pose P ∈ R^6 = global ⊕ jaw) and `emotion` (a MEAD label).
 *
 * Frames are sorted by `file_path` (INSTA writes them in completion order); the default split is the paper's:
 * the last 350 frames are test, val = the last 20 of test.
 *
 * @example
 * ```ts
 * import { readInstaDataset, writeInstaDataset } from '@consistent-avatar/proxy';
 * const ds = readInstaDataset('data/synthetic-0', { testFrames: 60 });
 * console.log(ds.width, ds.frames[0].expression?.length, ds.split.test.length);
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, readJson, writeJsonAtomic, writePng, type PngInput } from '@consistent-avatar/core';
import {
  type AvatarDataset, type AvatarFrame, asObject, datasetFile, numberField, parseMatrix, pngSize, readFloatText, requireFile,
  resolveInside, splitLastFrames,
  withIoErrors,
} from './common.js';

/** Options of {@link readInstaDataset}. */
export interface ReadInstaOptions {
  /** Frames at the end (path order) used for test. Default: the file's `test_frames` if present, else 350 (the paper). */
  testFrames?: number;
  /** Frames at the end of test used for val. Default 20 (INSTA). */
  valFrames?: number;
}

const FORMAT = 'insta';

function loadTransforms(root: string): { file: string; top: Record<string, unknown>; frames: Record<string, unknown>[] } {
  const candidates = ['transforms.json', 'transforms_train.json', 'transforms_test.json', 'transforms_val.json'].map((f) => path.join(root, f));
  const present = candidates.filter((f) => fs.existsSync(f));
  if (present.length === 0) throw new FormatError(FORMAT, root, 'no transforms.json (or transforms_{train,test,val}.json) in the dataset folder');
  // transforms.json holds every frame; otherwise merge the split files (val is a subset of test).
  const files = present[0] === candidates[0] ? [present[0]!] : present;
  let top: Record<string, unknown> | null = null;
  const frames: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const json = asObject(readJson(datasetFile(root, path.basename(file), FORMAT)), file, 'the file', FORMAT);
    top ??= json;
    if (!Array.isArray(json.frames)) throw new FormatError(FORMAT, file, "'frames' should be an array");
    for (const [i, f] of json.frames.entries()) {
      const frame = asObject(f, file, `frames[${i}]`, FORMAT);
      const key = typeof frame.file_path === 'string' ? frame.file_path : `<${typeof frame.file_path}>`;
      if (seen.has(key)) {
        if (files.length === 1) throw new FormatError(FORMAT, file, `frames[${i}]: duplicate file_path '${key.slice(0, 200)}'`);
        continue;
      }
      seen.add(key);
      frames.push({ ...frame, __file: file, __index: i });
    }
  }
  return { file: files[0]!, top: top!, frames };
}

/**
 * Read an INSTA-layout dataset. Validates the JSON, that every referenced file exists, and that no path leaves
 * the folder.
 *
 * @param root - the actor folder (holding `transforms*.json`, `images/`, `flame/exp/`).
 * @example
 * ```ts
 * const ds = readInstaDataset('data/actor', { testFrames: 350 });
 * ```
 */
export function readInstaDataset(root: string, options: ReadInstaOptions = {}): AvatarDataset {
  if (typeof root !== 'string' || root.length === 0) throw new ValidationError('readInstaDataset', 'root', 'a dataset folder path', root);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new ValidationError('readInstaDataset', 'root', 'an existing folder', root);
  const rootAbs = path.resolve(root);
  const { file, top, frames: rawFrames } = loadTransforms(rootAbs);
  const width = numberField(top, 'w', file, FORMAT);
  const height = numberField(top, 'h', file, FORMAT);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) throw new FormatError(FORMAT, file, `'w' and 'h' should be positive integers`);
  const fx = numberField(top, 'fl_x', file, FORMAT), fy = numberField(top, 'fl_y', file, FORMAT);
  const cx = numberField(top, 'cx', file, FORMAT), cy = numberField(top, 'cy', file, FORMAT);
  if (!(fx > 0) || !(fy > 0)) throw new FormatError(FORMAT, file, `'fl_x' and 'fl_y' should be focal lengths > 0 in pixels, got ${fx} and ${fy}`);
  if (rawFrames.length === 0) throw new FormatError(FORMAT, file, "'frames' is empty");
  const frames: AvatarFrame[] = rawFrames.map((raw) => {
    const src = raw.__file as string;
    const where = `frames[${raw.__index as number}]`;
    const imagePath = resolveInside(rootAbs, raw.file_path, src, `${where}.file_path`, FORMAT);
    requireFile(imagePath, src, `${where}.file_path`, FORMAT);
    // The declared size must be the images' (it sizes every render and buffer downstream).
    const size = pngSize(imagePath, FORMAT);
    if (size.width !== width || size.height !== height) {
      throw new FormatError(FORMAT, src, `${where}.file_path is a ${size.width}×${size.height} image, but 'w' × 'h' is ${width}×${height}`);
    }
    const id = path.basename(imagePath).replace(/\.[^.]+$/, '');
    const frame: AvatarFrame = {
      id,
      imagePath,
      camera: { width, height, fx, fy, cx, cy, cameraToWorld: parseMatrix(raw.transform_matrix, src, `${where}.transform_matrix`, FORMAT), convention: 'opencv' },
    };
    const expRel = raw.exp_path ?? (fs.existsSync(path.join(rootAbs, 'flame', 'exp', `${id}.txt`)) ? `flame/exp/${id}.txt` : undefined);
    if (expRel !== undefined) {
      const abs = resolveInside(rootAbs, expRel, src, `${where}.exp_path`, FORMAT);
      requireFile(abs, src, `${where}.exp_path`, FORMAT);
      frame.expression = readFloatText(abs, FORMAT);
    }
    if (raw.pose_path !== undefined) {
      const abs = resolveInside(rootAbs, raw.pose_path, src, `${where}.pose_path`, FORMAT);
      requireFile(abs, src, `${where}.pose_path`, FORMAT);
      frame.pose = readFloatText(abs, FORMAT);
      if (frame.pose.length !== 6 && frame.pose.length !== 15) {
        throw new FormatError(FORMAT, abs, `${where}.pose_path should hold 6 values (paper pose: global ⊕ jaw) or 15 (full FLAME pose), got ${frame.pose.length}`);
      }
    }
    if (raw.seg_mask_path !== undefined) {
      const abs = resolveInside(rootAbs, raw.seg_mask_path, src, `${where}.seg_mask_path`, FORMAT);
      requireFile(abs, src, `${where}.seg_mask_path`, FORMAT);
      frame.maskPath = abs;
    }
    if (raw.emotion !== undefined) {
      if (typeof raw.emotion !== 'string') throw new FormatError(FORMAT, src, `${where}.emotion should be a string`);
      frame.emotion = raw.emotion;
    }
    return frame;
  });
  frames.sort((a, b) => (a.imagePath < b.imagePath ? -1 : a.imagePath > b.imagePath ? 1 : 0));
  const lengths = new Set(frames.filter((f) => f.expression).map((f) => f.expression!.length));
  if (lengths.size > 1) throw new FormatError(FORMAT, file, `expression files have different lengths (${[...lengths].join(', ')})`);
  // Default split: the paper's 350 test frames, unless the dataset records its own `test_frames` (synthetic ones do).
  const recorded = typeof top.test_frames === 'number' && Number.isInteger(top.test_frames) ? top.test_frames : undefined;
  const testFrames = options.testFrames ?? recorded ?? 350;
  return { format: 'insta', root: rootAbs, width, height, frames, split: splitLastFrames(frames.length, testFrames, options.valFrames ?? 20) };
}

/** One frame to write with {@link writeInstaDataset}. */
export interface InstaFrameInput {
  /** Frame id, used as the file stem (`'00042'`). */
  id: string;
  /** The image (float [0, 1], e.g. a rasterizer output or `readPng`), or an existing PNG file to copy. */
  image: PngInput | string;
  /** Optional mask (1 channel, or a PNG path); written to `seg_mask/ID.png` as grey (channel 2 = mask). */
  mask?: PngInput | string;
  /** Camera-to-world, OpenCV axes, row-major 16 numbers. */
  cameraToWorld: ArrayLike<number>;
  expression?: ArrayLike<number>;
  /** Paper pose (6) — our extension `flame/pose/ID.txt`. */
  pose?: ArrayLike<number>;
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
  /** Test frames for the split files. Default 350 (must be fewer than the frames). */
  testFrames?: number;
  valFrames?: number;
  /** Extra top-level fields (e.g. `{ synthetic: true }`). */
  extra?: Record<string, unknown>;
}

/**
 * Write an INSTA-layout dataset (`images/`, `seg_mask/`, `flame/exp/`, `flame/pose/`, `transforms*.json`).
 * Numbers in the text files are written as the shortest decimal that reads back to the same float32.
 *
 * @example
 * ```ts
 * writeInstaDataset('out/ds', { width: 128, height: 128, fx: 250, fy: 250, cx: 64, cy: 64, frames, testFrames: 20 });
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
  const fmt = (v: number) => String(Math.fround(v));
  const frameJson = data.frames.map((f) => {
    const entry: Record<string, unknown> = { file_path: `images/${f.id}.png` };
    put(`images/${f.id}.png`, f.image);
    const m = Array.from(f.cameraToWorld, Number);
    entry.transform_matrix = [m.slice(0, 4), m.slice(4, 8), m.slice(8, 12), m.slice(12, 16)];
    if (f.mask !== undefined) {
      put(`seg_mask/${f.id}.png`, f.mask);
      entry.seg_mask_path = `seg_mask/${f.id}.png`;
    }
    if (f.expression) {
      fs.mkdirSync(path.join(out, 'flame', 'exp'), { recursive: true });
      fs.writeFileSync(path.join(out, 'flame', 'exp', `${f.id}.txt`), Array.from(f.expression, fmt).join('\n') + '\n');
      entry.exp_path = `flame/exp/${f.id}.txt`;
    }
    if (f.pose) {
      fs.mkdirSync(path.join(out, 'flame', 'pose'), { recursive: true });
      fs.writeFileSync(path.join(out, 'flame', 'pose', `${f.id}.txt`), Array.from(f.pose, fmt).join('\n') + '\n');
      entry.pose_path = `flame/pose/${f.id}.txt`;
    }
    if (f.emotion !== undefined) entry.emotion = f.emotion;
    return entry;
  });
  const top = {
    w: data.width, h: data.height, fl_x: data.fx, fl_y: data.fy, cx: data.cx, cy: data.cy,
    camera_angle_x: 2 * Math.atan(data.width / (2 * data.fx)),
    camera_angle_y: 2 * Math.atan(data.height / (2 * data.fy)),
    x_fov: (2 * Math.atan(data.width / (2 * data.fx)) * 180) / Math.PI,
    y_fov: (2 * Math.atan(data.height / (2 * data.fy)) * 180) / Math.PI,
    test_frames: testFrames,
    ...(data.extra ?? {}),
  };
  // The split files first, `transforms.json` (the file readers take first) last: an interrupted write leaves no
  // `transforms.json`, so a complete-looking dataset is a complete one.
  for (const [name, idx] of Object.entries(split)) writeJsonAtomic(path.join(out, `transforms_${name}.json`), { ...top, frames: idx.map((i) => frameJson[i]) });
  writeJsonAtomic(path.join(out, 'transforms.json'), { ...top, frames: frameJson });
}

