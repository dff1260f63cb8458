/**
 * The in-memory form every dataset reader returns ({@link AvatarDataset}), the default split, and the path checks
 * readers share (paths inside JSON must stay inside the dataset folder).
 *
 * @example
 * ```ts
 * import { readInstaDataset, splitLastFrames } from '@consistent-avatar/proxy';
 * const ds = readInstaDataset('data/obama', { testFrames: 350 });
 * console.log(ds.frames.length, ds.split.test.length); // e.g. 2000 350
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, asIoError, describeValue, openRegularFile, readLimits, readTextBounded } from '@consistent-avatar/core';
import { rigidProblem, type PinholeCamera } from '../raster/camera.js';
import type { FrameMaskSource } from './masks.js';

/** One frame of a monocular talking-head dataset. */
export interface AvatarFrame {
  /** Frame id (file stem, e.g. `'00042'`). */
  id: string;
  /** Absolute path of the image. */
  imagePath: string;
  /** Absolute path of the mask file when the dataset has one (INSTA: the label map; IMAvatar: the grey matte). */
  maskPath?: string;
  /** How the mask is decoded (alpha, label map, grey); read it with `readFrameMask`. */
  mask?: FrameMaskSource;
  /** The camera of this frame (intrinsics in pixels; camera-to-world in `camera.convention`). */
  camera: PinholeCamera;
  /** Expression coefficients as stored (INSTA / tracker 100, NeRFace 76, IMAvatar 50). */
  expression?: Float32Array;
  /** The paper pose P ∈ R^6 = global rotation ⊕ jaw (axis-angle; see the dataset's `poseSource`). */
  pose?: Float32Array;
  /**
   * The full FLAME pose (15: global, neck, jaw, eyes) to pose the mesh with under `camera`, when it differs from
   * `pose` (INSTA: the head rotation is in the tracked camera, so the mesh's global rotation is 0; IMAvatar: neck and
   * eyes). Absent: pose the mesh with `pose`.
   */
  renderPose?: Float32Array;
  /** Emotion label (MEAD vocabulary) when the dataset provides one (synthetic datasets do). */
  emotion?: string;
  /** Format-specific extras (e.g. NeRFace `bbox`, IMAvatar `flame_keypoints`). */
  extra?: Record<string, unknown>;
}

/** A dataset: frames sorted by image path, and a train / test / val split by frame index. */
export interface AvatarDataset {
  format: 'insta' | 'nerface' | 'imavatar';
  /** Absolute dataset folder. */
  root: string;
  width: number;
  height: number;
  frames: AvatarFrame[];
  split: { train: number[]; test: number[]; val: number[] };
  /** Identity coefficients when the format stores them (IMAvatar `shape_params`). */
  shape?: Float32Array;
  /** Where P came from (e.g. `'flame/pose files'`, `'camera + flame/jaw'`, `"flame_params.json 'pose' [0:3] ⊕ [6:9]"`). */
  poseSource?: string;
  /** Where the split came from (e.g. `'transforms_train.json / transforms_test.json'`, `'last 350 frames'`). */
  splitSource?: string;
}

/**
 * The paper's split: the last `testFrames` frames (in path order) are test, the rest train; val = the last
 * `valFrames` of test (INSTA's convention).
 *
 * @example
 * ```ts
 * splitLastFrames(1000, 350); // { train: [0..649], test: [650..999], val: [980..999] }
 * ```
 */
export function splitLastFrames(numFrames: number, testFrames = 350, valFrames = 20): { train: number[]; test: number[]; val: number[] } {
  if (!Number.isInteger(numFrames) || numFrames < 1) throw new ValidationError('splitLastFrames', 'numFrames', 'a positive integer', numFrames);
  if (!Number.isInteger(testFrames) || testFrames < 0) throw new ValidationError('splitLastFrames', 'testFrames', 'a non-negative integer', testFrames);
  if (!Number.isInteger(valFrames) || valFrames < 0) throw new ValidationError('splitLastFrames', 'valFrames', 'a non-negative integer', valFrames);
  if (testFrames >= numFrames) {
    throw new ValidationError('splitLastFrames', 'testFrames', `fewer than the ${numFrames} frames of the dataset (pass a smaller testFrames)`, testFrames);
  }
  const idx = Array.from({ length: numFrames }, (_, i) => i);
  const test = idx.slice(numFrames - testFrames);
  return { train: idx.slice(0, numFrames - testFrames), test, val: test.slice(Math.max(0, test.length - valFrames)) };
}

/**
 * Resolve a path from a dataset's JSON against its folder; rejects absolute paths and paths that leave the folder,
 * by name (`../`) and by real path: once symlinks are resolved, an existing file must still be inside the real path
 * of the folder (a symlink inside the dataset that points outside it is refused).
 *
 * @param file - the JSON file (for the error message).
 * @example
 * ```ts
 * const abs = resolveInside('/data/actor', 'images/00001.png', 'transforms.json', 'frames[0].file_path', 'insta');
 * // resolveInside('/data/actor', '../x.png', …) throws FormatError: … escapes the dataset folder
 * ```
 */
export function resolveInside(root: string, relative: unknown, file: string, field: string, format: string): string {
  if (typeof relative !== 'string' || relative.length === 0) throw new FormatError(format, file, `${field} should be a relative path string, got ${describeValue(relative)}`);
  const shown = relative.length > 200 ? `${relative.slice(0, 200)}…` : relative;
  if (path.isAbsolute(relative) || /^[a-zA-Z]:[\\/]/.test(relative) || relative.includes('\0')) {
    throw new FormatError(format, file, `${field} '${shown}' is absolute; paths must be relative to the dataset folder`);
  }
  const rootAbs = path.resolve(root);
  const abs = path.resolve(rootAbs, relative);
  if (!isWithin(rootAbs, abs)) {
    throw new FormatError(format, file, `${field} '${shown}' escapes the dataset folder ${rootAbs}`);
  }
  if (fs.existsSync(abs)) {
    const real = fs.realpathSync(abs);
    const realRoot = fs.realpathSync(rootAbs);
    if (!isWithin(realRoot, real)) throw new FormatError(format, file, `${field} '${shown}' leads outside the dataset folder ${realRoot} through a symlink (to ${real})`);
  }
  return abs;
}

/** `child` is `parent` or inside it (both absolute, normalised). */
function isWithin(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

/**
 * A dataset's own file (`transforms.json`, `flame_params.json`): inside the folder by real path and a regular file
 * (a FIFO or a symlink to `/dev/zero` is refused before it is opened). Returns its absolute path.
 *
 * @example
 * ```ts
 * const file = datasetFile('/data/actor', 'transforms.json', 'insta');
 * ```
 */
export function datasetFile(root: string, name: string, format: string): string {
  const abs = resolveInside(root, name, path.join(root, name), 'the dataset file', format);
  requireFile(abs, abs, 'the dataset file', format);
  return abs;
}

/**
 * The image of a NeRFace / IMAvatar frame: `file_path` without an extension gets ".png"; it must stay inside the
 * folder and exist.
 *
 * @example
 * ```ts
 * const abs = frameImagePath('/data/person', './train/f_0000', 'transforms_train.json', 'frames[0]', 'nerface');
 * ```
 */
export function frameImagePath(root: string, filePath: unknown, file: string, where: string, format: string): string {
  const rel = typeof filePath === 'string' && !/\.png$/i.test(filePath) ? `${filePath}.png` : filePath;
  const abs = resolveInside(root, rel, file, `${where}.file_path`, format);
  requireFile(abs, file, `${where}.file_path`, format);
  return abs;
}

/**
 * Throw a FormatError when a referenced file is missing or is not a regular file (a folder, a FIFO, a device).
 * @example
 * ```ts
 * requireFile('/data/actor/images/00001.png', 'transforms.json', 'frames[0].file_path', 'insta');
 * ```
 */
export function requireFile(abs: string, file: string, field: string, format: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new FormatError(format, file, `${field} refers to a missing file ${abs}`);
  }
  if (!stat.isFile()) throw new FormatError(format, file, `${field} refers to ${abs}, which is not a regular file`);
}

/**
 * A rigid 4×4 matrix (nested rows or flat 16) from JSON, row-major flat; 3×4 gets [0 0 0 1] appended. A matrix that
 * is not rigid (scale, shear, reflection, a wrong last row) raises a FormatError, unless `options.rigid` is false
 * (the caller checks after a convention change, e.g. {@link unmirrorFocal}).
 * @example
 * ```ts
 * parseMatrix([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 2]], 'transforms.json', 'frames[0].transform_matrix', 'insta'); // 16 numbers
 * ```
 */
export function parseMatrix(value: unknown, file: string, field: string, format: string, options: { rigid?: boolean } = {}): number[] {
  let rows: unknown[] | null = null;
  if (Array.isArray(value) && value.length > 0 && value.length <= 4 && value.every((r) => Array.isArray(r) && r.length === 4)) rows = value;
  const flat = rows ? rows.flat() : value;
  if (!Array.isArray(flat) || !(flat.length === 16 || flat.length === 12) || !flat.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new FormatError(format, file, `${field} should be a 4×4 (or 3×4) matrix of finite numbers`);
  }
  const m = flat as number[];
  const full = m.length === 12 ? [...m, 0, 0, 0, 1] : m;
  const problem = options.rigid === false ? null : rigidProblem(full);
  if (problem) throw new FormatError(format, file, `${field} is not a rigid transform: ${problem}`);
  return full;
}

/**
 * Ray formulas with a negative focal length (NeRFace's `get_ray_bundle`, IMAvatar's `lift` with its negated fx)
 * mirror a camera axis. Returns |fx|, |fy| and the camera-to-world with the x (fx < 0) and y (fy < 0) columns negated,
 * which casts the same rays; a result that is a reflection (det −1) raises a FormatError naming `field`.
 * @example
 * ```ts
 * const { fx, cameraToWorld } = unmirrorFocal(-500, 500, c2w, 'transforms_train.json', 'frames[0].transform_matrix', 'nerface');
 * ```
 */
export function unmirrorFocal(fx: number, fy: number, cameraToWorld: ArrayLike<number>, file: string, field: string, format: string): { fx: number; fy: number; cameraToWorld: number[] } {
  const m = Array.from(cameraToWorld, Number);
  for (const [focal, col] of [[fx, 0], [fy, 1]] as const) {
    if (focal < 0) for (let r = 0; r < 3; r++) m[r * 4 + col] = -m[r * 4 + col]!;
  }
  const problem = rigidProblem(m);
  if (problem) throw new FormatError(format, file, `${field} with focal lengths (${fx}, ${fy}) casts the rays of a non-rigid camera: ${problem}`);
  return { fx: Math.abs(fx), fy: Math.abs(fy), cameraToWorld: m };
}

/** Parse a whitespace-separated float file (tracker `%.8f` exports). */
export function readFloatText(abs: string, format: string): Float32Array {
  const text = readTextBounded(abs, format);
  const parts = text.trim().split(/[\s,]+/).filter(Boolean);
  const values = Float32Array.from(parts, Number); // float32: 1e300 becomes Infinity and is refused below
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new FormatError(format, abs, 'expected whitespace-separated numbers within the float32 range');
  return values;
}

/**
 * The size every frame of a dataset must share: the PNG size of this frame (see {@link pngSize}), checked against
 * `size` (the first frame's) when given; a different size raises a FormatError naming the frame.
 * @returns the size to carry to the next frame.
 * @example
 * ```ts
 * let size = null;
 * for (const [i, p] of paths.entries()) size = sameFrameSize(size, p, 'transforms.json', `frames[${i}]`, 'nerface');
 * ```
 */
export function sameFrameSize(size: { width: number; height: number } | null, imagePath: string, file: string, where: string, format: string): { width: number; height: number } {
  const own = pngSize(imagePath, format);
  if (size && (own.width !== size.width || own.height !== size.height)) {
    throw new FormatError(format, file, `${where}.file_path is ${own.width}×${own.height}, other frames are ${size.width}×${size.height}`);
  }
  return size ?? own;
}

/**
 * Width and height from a PNG file's IHDR chunk (without decoding it). A short file, a size of 0 or above 2^31 − 1,
 * or an image above the `maxImagePixels` read limit raises a FormatError.
 * @example
 * ```ts
 * pngSize('/data/actor/images/00001.png', 'insta'); // { width: 512, height: 512 }
 * ```
 */
export function pngSize(abs: string, format: string): { width: number; height: number } {
  const handle = openRegularFile(abs, format);
  try {
    const head = Buffer.alloc(24);
    const n = handle.size >= 24 ? fs.readSync(handle.fd, head, 0, 24, 0) : 0;
    if (n < 24 || head.readUInt32BE(0) !== 0x89504e47 || head.toString('ascii', 12, 16) !== 'IHDR') throw new FormatError(format, abs, 'not a PNG file (no IHDR header)');
    const width = head.readUInt32BE(16), height = head.readUInt32BE(20);
    if (width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) throw new FormatError(format, abs, `PNG header size ${width}x${height} is not a valid image size`);
    const max = readLimits().maxImagePixels;
    if (width * height > max) throw new FormatError(format, abs, `PNG size ${width}x${height} is above the maxImagePixels read limit of ${max}`);
    return { width, height };
  } finally {
    handle.close();
  }
}

/**
 * Whether a PNG file has an alpha channel (IHDR colour type 4 or 6, or a tRNS chunk before the image data).
 * @example
 * ```ts
 * pngHasAlpha('/data/actor/images/00001.png', 'insta'); // true for INSTA's RGBA frames
 * ```
 */
export function pngHasAlpha(abs: string, format: string): boolean {
  const handle = openRegularFile(abs, format);
  try {
    const head = Buffer.alloc(Math.min(handle.size, 1 << 16));
    const n = fs.readSync(handle.fd, head, 0, head.length, 0);
    if (n < 26 || head.readUInt32BE(0) !== 0x89504e47 || head.toString('ascii', 12, 16) !== 'IHDR') throw new FormatError(format, abs, 'not a PNG file (no IHDR header)');
    const colorType = head[25]!;
    if (colorType === 4 || colorType === 6) return true;
    // Walk the chunks read so far for a tRNS (colour-key transparency) before IDAT.
    for (let at = 8; at + 8 <= n; ) {
      const length = head.readUInt32BE(at), type = head.toString('ascii', at + 4, at + 8);
      if (type === 'tRNS') return true;
      if (type === 'IDAT' || type === 'IEND') return false;
      at += 12 + length;
    }
    return false;
  } finally {
    handle.close();
  }
}

/** `value` must be a plain object (for JSON validation). */
export function asObject(value: unknown, file: string, what: string, format: string): Record<string, unknown> {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new FormatError(format, file, `${what} should be a JSON object`);
  return value as Record<string, unknown>;
}

/** A finite number field. */
export function numberField(obj: Record<string, unknown>, key: string, file: string, format: string, where = 'top level'): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(format, file, `${where}: '${key}' should be a finite number, got ${describeValue(v)}`);
  return v;
}

/** A numeric array field (optional). */
export function floatArrayField(obj: Record<string, unknown>, key: string, file: string, format: string, where: string): Float32Array | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  const flat = Array.isArray(v) && v.length <= 1_000_000 ? v.flat(2) : v;
  const values = Array.isArray(flat) && flat.every((x) => typeof x === 'number') ? Float32Array.from(flat as number[]) : null;
  if (!values || values.some((x) => !Number.isFinite(x))) {
    throw new FormatError(format, file, `${where}: '${key}' should be an array of finite numbers within the float32 range`);
  }
  return values;
}

/**
 * Run a dataset writer, turning a system error (a full disk, a read-only folder, …) into an `IoError` naming the file
 * it happened on (or `out`), as every writer of this library reports it.
 * @example
 * ```ts
 * withIoErrors('out/ds', () => fs.writeFileSync('out/ds/a.txt', '1')); // ENOSPC → IoError "write out/ds/a.txt failed (ENOSPC): …"
 * ```
 */
export function withIoErrors<T>(out: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw asIoError(error, typeof e?.syscall === 'string' ? e.syscall : 'write', typeof e?.path === 'string' ? e.path : out);
  }
}
