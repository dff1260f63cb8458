/**
 * NeRFace layout, as gafniguy/4D-Facial-Avatars' `nerface_code/nerf-pytorch/real_to_nerf.py` writes it and
 * `nerf/load_flame.py` reads it (docs/sources.md §datasets): `transforms_{train,val,test}.json` with
 * `camera_angle_x` and `intrinsics` = [fx, fy, cx, cy] — fx, fy in **pixels** (`read_intrinsics` multiplies by −w,
 * so fx may be negative), cx, cy **normalised** to [0, 1] — and frames with `file_path` "./train/f_0000" (no
 * extension; ".png" appended), `transform_matrix` (camera-to-world in NeRF's **OpenGL** axes), `expression` (76) and
 * `bbox` [y0, y1, x0, x1] (normalised). Each split numbers its files from f_0000, and `main()` draws train / val with
 * a random permutation; `index_map.npy` (N × 2: video frame index, index in the train split or −1) maps the train
 * files back to video time. `generate_original_test_sequence` writes the test split in video order.
 *
 * What the reader does:
 * - Frame ids are unique across splits: `<split>_<stem>` (`train_f_0000`, `test_f_0000`).
 * - Time order: with `index_map.npy`, train frames in video order; then val (whose times NeRFace does not record)
 *   and test in file order. Without it: train, val, test, each in file order.
 * - Cameras follow `get_ray_bundle`: rays through **integer** pixel indices (`pixelCenter: 0`), direction
 *   ((i − W·cx) / fx, −(j − H·cy) / fy, −1); a negative focal length mirrors that axis ({@link unmirrorFocal}).
 * - The split is the dataset's own (train / val / test files).
 * - P: NeRFace tracks a rigid head (the camera) and 76 expression values, no FLAME jaw. The global rotation is the
 *   camera's rotation relative to the canonical frontal camera ({@link headRotationFromCamera}, after converting
 *   the OpenGL axes) and the jaw is 0 (the expression basis carries the mouth); the mesh is posed with pose 0 under
 *   the camera (`renderPose`). NeRFace's `read_rigid_poses` rescales translations so the mean camera z is 0.5; the
 *   scale is not stored, so the head's metric size is only right when the tracked distance was about 0.5.
 *
 * @example
 * ```ts
 * import { readNerfaceDataset } from '@consistent-avatar/proxy';
 * const ds = readNerfaceDataset('data/person_1');
 * console.log(ds.frames[0].id, ds.frames[0].expression?.length); // 'train_f_0012' 76
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError, readJson, readNpy, writeJsonAtomic, writePng, type PngInput } from '@consistent-avatar/core';
import {
  type AvatarDataset, type AvatarFrame, asObject, datasetFile, floatArrayField, frameImagePath, parseMatrix, sameFrameSize, unmirrorFocal,
  withIoErrors,
} from './common.js';
import { headRotationFromCamera } from './insta.js';

const FORMAT = 'nerface';
const SPLITS = ['train', 'val', 'test'] as const;

/** Video time of each train file from `index_map.npy` (train position → video frame index). */
function trainTimes(rootAbs: string, numTrain: number): number[] | null {
  const file = path.join(rootAbs, 'index_map.npy');
  if (!fs.existsSync(file)) return null;
  const map = readNpy(datasetFile(rootAbs, 'index_map.npy', FORMAT));
  if (map.shape.length !== 2 || map.shape[1] !== 2) throw new FormatError(FORMAT, file, `should be an N × 2 array (video frame, train index or −1), got shape [${map.shape.join(', ')}]`);
  const times = new Array<number>(numTrain).fill(-1);
  for (let r = 0; r < map.shape[0]!; r++) {
    const frame = Number(map.data[r * 2]), train = Number(map.data[r * 2 + 1]);
    if (train === -1) continue;
    if (!Number.isInteger(train) || train < 0 || train >= numTrain || times[train] !== -1) {
      throw new FormatError(FORMAT, file, `row ${r}: train index ${train} is not a distinct index below the ${numTrain} frames of transforms_train.json`);
    }
    times[train] = frame;
  }
  const missing = times.indexOf(-1);
  if (missing >= 0) throw new FormatError(FORMAT, file, `mismatched frame counts: no row for train frame ${missing} (transforms_train.json has ${numTrain} frames)`);
  return times;
}

/**
 * Read a NeRFace-layout dataset (see the module docs).
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
  const entries: { frame: AvatarFrame; split: (typeof SPLITS)[number]; order: number }[] = [];
  let size: { width: number; height: number } | null = null;
  for (const split of SPLITS) {
    const file = path.join(rootAbs, `transforms_${split}.json`);
    if (!fs.existsSync(file)) continue;
    const json = asObject(readJson(datasetFile(rootAbs, path.basename(file), FORMAT)), file, 'the file', FORMAT);
    const intr = json.intrinsics;
    if (!Array.isArray(intr) || intr.length !== 4 || !intr.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      const hint = json.fl_x !== undefined ? " (it has 'fl_x': an INSTA folder, use readInstaDataset)" : '';
      throw new FormatError(FORMAT, file, `'intrinsics' should be [fx, fy, cx, cy] (fx, fy in pixels; cx, cy normalised)${hint}`);
    }
    if (intr[0] === 0 || intr[1] === 0) throw new FormatError(FORMAT, file, `'intrinsics' focal lengths fx, fy should be non-zero (pixels; fx may be negative), got ${intr[0]}, ${intr[1]}`);
    if (!Array.isArray(json.frames)) throw new FormatError(FORMAT, file, "'frames' should be an array");
    for (const [i, raw] of json.frames.entries()) {
      const f = asObject(raw, file, `frames[${i}]`, FORMAT);
      const where = `frames[${i}]`;
      const imagePath = frameImagePath(rootAbs, f.file_path, file, where, FORMAT);
      size = sameFrameSize(size, imagePath, file, where, FORMAT);
      const [fx, fy, cxn, cyn] = intr as number[];
      const cam = unmirrorFocal(fx!, fy!, parseMatrix(f.transform_matrix, file, `${where}.transform_matrix`, FORMAT, { rigid: false }), file, `${where}.transform_matrix`, FORMAT);
      const frame: AvatarFrame = {
        id: `${split}_${path.basename(imagePath, '.png')}`,
        imagePath,
        camera: {
          width: size.width, height: size.height, fx: cam.fx, fy: cam.fy, cx: cxn! * size.width, cy: cyn! * size.height,
          cameraToWorld: cam.cameraToWorld, convention: 'opengl', pixelCenter: 0,
        },
      };
      const expression = floatArrayField(f, 'expression', file, FORMAT, where);
      if (expression) frame.expression = expression;
      const cv = cam.cameraToWorld.map((v, k) => (k < 12 && (k % 4 === 1 || k % 4 === 2) ? -v : v)); // OpenGL → OpenCV axes
      frame.pose = Float32Array.from([...headRotationFromCamera(cv), 0, 0, 0]);
      frame.renderPose = new Float32Array(15);
      const bbox = floatArrayField(f, 'bbox', file, FORMAT, where);
      frame.extra = { bbox: bbox ? Array.from(bbox) : [0, 1, 0, 1] };
      entries.push({ frame, split, order: i });
    }
  }
  if (entries.length === 0 || !size) throw new FormatError(FORMAT, rootAbs, 'no frames: expected transforms_{train,val,test}.json with frames');
  const numTrain = entries.filter((e) => e.split === 'train').length;
  const times = trainTimes(rootAbs, numTrain);
  const rank = (e: (typeof entries)[number]) => [SPLITS.indexOf(e.split), e.split === 'train' && times ? times[e.order]! : e.order];
  entries.sort((a, b) => {
    const [sa, oa] = rank(a), [sb, ob] = rank(b);
    return sa! - sb! || oa! - ob!;
  });
  const split = { train: [] as number[], test: [] as number[], val: [] as number[] };
  entries.forEach((e, i) => split[e.split].push(i));
  return {
    format: 'nerface', root: rootAbs, width: size.width, height: size.height, frames: entries.map((e) => e.frame), split,
    splitSource: 'transforms_train.json / transforms_val.json / transforms_test.json',
    poseSource: 'camera (global rotation; jaw 0: NeRFace tracks no FLAME jaw)',
  };
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
 * Write a NeRFace-layout dataset: `<split>/<id>.png` and `transforms_<split>.json` (`intrinsics` [fx, fy, cx / W,
 * cy / H]). `fx, fy, cx, cy` are pixels in NeRFace's integer-centre convention (`pixelCenter: 0`); a negative fx is
 * written as given (pair it with a negated x column, as NeRFace's own data does). No `index_map.npy` is written:
 * the frames of each split are in time order already.
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
