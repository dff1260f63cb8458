/**
 * The parsers the fuzz suite attacks, one {@link FuzzTarget} each: a valid seed input written once per worker, a
 * seeded mutation of it per case, the parser call, and an oracle that says what a successful parse must satisfy (so
 * a parse that returns nonsense — NaN from a damaged archive, an image size from a truncated header, a non-rigid
 * camera — is counted as silent garbage, not as success).
 *
 * @example
 * ```ts
 * import { FUZZ_TARGETS } from './targets.js';
 * const npy = FUZZ_TARGETS.find((t) => t.name === 'npy')!;
 * await npy.setup('/tmp/seeds/npy');
 * const problem = await npy.run('/tmp/seeds/npy', '/tmp/case-1', 1234); // null: clean (parsed or refused with a typed error)
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  AdamW, CheckpointManager, TrainingLoopState, Rng, encodeNpy, encodeNpz, encodePng, encodeSafetensors, loadCheckpoint, nn, readJson,
  readLimits, readNpy, readNpz, readPng, readSafetensors, resumeTraining, saveCheckpoint, saveTrainingCheckpoint, tf, type NpyArray,
} from '@consistent-avatar/core';
import {
  readImavatarDataset, readInstaDataset, readNerfaceDataset, rigidProblem, writeImavatarDataset, writeInstaDataset, writeNerfaceDataset,
  type AvatarDataset,
} from '@consistent-avatar/proxy';
import { MAX_TRAIN_TIMESTEPS, MODEL_CONFIG_LIMITS, readModelConfig, readSchedulerConfig, resolveUNetConfig } from '@consistent-avatar/diffusion';
import { ExpressionDatabase, buildMeadDatabase, loadExpressionDatabase, saveExpressionDatabase } from '@consistent-avatar/emotion';
import { fileSystemMutation, mutateBytes, mutateJson, pick } from './mutators.js';

/** One parser under attack. */
export interface FuzzTarget {
  readonly name: string;
  /** Write the valid seed inputs into `seedDir` (once per worker). */
  setup(seedDir: string): void | Promise<void>;
  /** Build case `seed` in `caseDir` from the seeds, parse it; return a problem of the result (garbage) or null. */
  run(seedDir: string, caseDir: string, seed: number): string | null | Promise<string | null>;
  /** Single-file formats: write case `seed` into `caseDir` (as `run` does) and return its path (the cross-check reads it). */
  build?(seedDir: string, caseDir: string, seed: number): string;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers.

const shapeSize = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function copyTree(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

/** Files (not folders) under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = path.join(rel, e.name);
      if (e.isDirectory()) stack.push(child);
      else if (e.isFile()) out.push(child);
    }
  }
  return out.sort();
}

/** Apply a file-system mutation to `file` (a FIFO, a folder, a symlink to /dev/zero or out of the tree, …). */
function mutateFileSystem(file: string, outside: string, seed: number): void {
  const kind = fileSystemMutation(seed);
  fs.rmSync(file, { recursive: true, force: true });
  if (kind === 'fifo') execFileSync('mkfifo', [file]);
  else if (kind === 'folder') fs.mkdirSync(file);
  else if (kind === 'dev-zero') fs.symlinkSync('/dev/zero', file);
  else if (kind === 'symlink-out') fs.symlinkSync(outside, file);
  else if (kind === 'empty') fs.writeFileSync(file, '');
}

/** Mutate one file of a folder case: JSON-aware for `.json`, bytes otherwise, or a file-system mutation. */
function mutateTree(caseDir: string, seed: number, outside: string, jsonWeight = 0.6): void {
  const files = filesUnder(caseDir);
  const jsons = files.filter((f) => f.endsWith('.json'));
  const choice = pick(100, seed) / 100;
  if (choice < jsonWeight && jsons.length > 0) {
    const file = path.join(caseDir, jsons[pick(jsons.length, seed + 1)]!);
    fs.writeFileSync(file, mutateJson(fs.readFileSync(file, 'utf8'), seed + 2));
  } else if (choice < jsonWeight + 0.25) {
    const file = path.join(caseDir, files[pick(files.length, seed + 1)]!);
    fs.writeFileSync(file, mutateBytes(fs.readFileSync(file), seed + 2));
  } else {
    mutateFileSystem(path.join(caseDir, files[pick(files.length, seed + 1)]!), outside, seed + 2);
  }
}

/** A file outside every case folder (the target of "symlink out of the dataset" mutations). */
function outsideFile(seedDir: string): string {
  const file = path.join(path.dirname(seedDir), 'outside-secret.png');
  if (!fs.existsSync(file)) fs.writeFileSync(file, encodePng({ width: 3, height: 2, channels: 3, data: new Float32Array(18).fill(0.5) }));
  return file;
}

function finite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** What a dataset reader's result must satisfy. */
function checkDataset(ds: AvatarDataset, caseDir: string): string | null {
  const realRoot = fs.realpathSync(caseDir);
  if (!Number.isInteger(ds.width) || !Number.isInteger(ds.height) || ds.width < 1 || ds.height < 1) return `image size ${ds.width}×${ds.height}`;
  if (ds.width * ds.height > readLimits().maxImagePixels) return `image size ${ds.width}×${ds.height} above the pixel limit`;
  for (const [i, f] of ds.frames.entries()) {
    for (const p of [f.imagePath, f.maskPath]) {
      if (p === undefined) continue;
      const real = fs.realpathSync(p);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return `frame ${i}: ${p} resolves outside the dataset (${real})`;
      if (!fs.statSync(real).isFile()) return `frame ${i}: ${p} is not a regular file`;
    }
    const png = readPng(f.imagePath);
    if (png.width !== f.camera.width || png.height !== f.camera.height) return `frame ${i}: camera ${f.camera.width}×${f.camera.height}, image ${png.width}×${png.height}`;
    const c = f.camera;
    if (![c.fx, c.fy, c.cx, c.cy].every(Number.isFinite) || c.fx === 0 || c.fy === 0) return `frame ${i}: intrinsics ${c.fx}, ${c.fy}, ${c.cx}, ${c.cy}`;
    const rigid = rigidProblem(c.cameraToWorld);
    if (rigid) return `frame ${i}: camera-to-world not rigid (${rigid})`;
    if (f.expression && !finite(f.expression)) return `frame ${i}: non-finite expression`;
    if (f.pose && (!finite(f.pose) || ![6, 15].includes(f.pose.length))) return `frame ${i}: pose of ${f.pose.length} values`;
  }
  for (const part of ['train', 'test', 'val'] as const) {
    if (!ds.split[part].every((k) => Number.isInteger(k) && k >= 0 && k < ds.frames.length)) return `split.${part} has indices outside the frames`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Binary formats.

const safetensors: FuzzTarget = {
  name: 'safetensors',
  setup(seedDir) {
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        b: { dtype: 'I64', shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) },
        c: { dtype: 'BOOL', shape: [4], data: Uint8Array.from([0, 1, 1, 0]) },
        d: { dtype: 'F16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) },
      },
      { format: 'pt' },
    );
    fs.writeFileSync(path.join(seedDir, 'seed.safetensors'), bytes);
  },
  build(seedDir, caseDir, seed) {
    const original = fs.readFileSync(path.join(seedDir, 'seed.safetensors'));
    const gz = pick(4, seed) === 0;
    const file = path.join(caseDir, gz ? 'case.safetensors.gz' : 'case.safetensors');
    fs.writeFileSync(file, mutateBytes(gz ? gzipSync(original) : original, seed + 1));
    return file;
  },
  run(seedDir, caseDir, seed) {
    const { tensors } = readSafetensors(this.build!(seedDir, caseDir, seed));
    for (const [name, t] of Object.entries(tensors)) {
      if (t.data.length !== shapeSize(t.shape)) return `tensor ${name}: ${t.data.length} values for shape [${t.shape}]`;
      if (t.dtype === 'BOOL' && (t.data as Uint8Array).some((v) => v > 1)) return `tensor ${name}: BOOL bytes other than 0/1`;
    }
    return null;
  },
};

const NPY_SEEDS: NpyArray[] = [
  { dtype: 'float32', shape: [2, 3], fortranOrder: false, data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
  { dtype: 'int64', shape: [3], fortranOrder: false, data: BigInt64Array.from([1n, 2n, -3n]) },
  { dtype: 'bool', shape: [2, 2], fortranOrder: false, data: Uint8Array.from([1, 0, 0, 1]) },
  { dtype: 'float64', shape: [], fortranOrder: false, data: Float64Array.from([3.5]) },
];

const npy: FuzzTarget = {
  name: 'npy',
  setup(seedDir) {
    NPY_SEEDS.forEach((a, i) => fs.writeFileSync(path.join(seedDir, `seed${i}.npy`), encodeNpy(a)));
  },
  build(seedDir, caseDir, seed) {
    const original = fs.readFileSync(path.join(seedDir, `seed${pick(NPY_SEEDS.length, seed)}.npy`));
    const file = path.join(caseDir, 'case.npy');
    fs.writeFileSync(file, mutateBytes(original, seed + 1));
    return file;
  },
  run(seedDir, caseDir, seed) {
    const a = readNpy(this.build!(seedDir, caseDir, seed));
    if (a.data.length !== shapeSize(a.shape)) return `${a.data.length} values for shape [${a.shape}]`;
    if (a.dtype === 'bool' && (a.data as Uint8Array).some((v) => v > 1)) return 'bool values other than 0/1';
    return null;
  },
};

const NPZ_SEED: Record<string, NpyArray> = {
  v_template: { dtype: 'float32', shape: [4, 3], fortranOrder: false, data: Float32Array.from({ length: 12 }, (_, i) => i / 7) },
  f: { dtype: 'uint32', shape: [2, 3], fortranOrder: false, data: Uint32Array.from([0, 1, 2, 1, 2, 3]) },
  flag: { dtype: 'bool', shape: [2], fortranOrder: false, data: Uint8Array.from([1, 0]) },
};

const npz: FuzzTarget = {
  name: 'npz',
  setup(seedDir) {
    fs.writeFileSync(path.join(seedDir, 'stored.npz'), encodeNpz(NPZ_SEED));
    fs.writeFileSync(path.join(seedDir, 'deflated.npz'), encodeNpz(NPZ_SEED, { compress: true }));
  },
  build(seedDir, caseDir, seed) {
    const original = fs.readFileSync(path.join(seedDir, pick(2, seed) === 0 ? 'stored.npz' : 'deflated.npz'));
    const file = path.join(caseDir, 'case.npz');
    fs.writeFileSync(file, mutateBytes(original, seed + 1));
    return file;
  },
  run(seedDir, caseDir, seed) {
    const arrays = readNpz(this.build!(seedDir, caseDir, seed));
    for (const [name, a] of Object.entries(arrays)) {
      if (a.data.length !== shapeSize(a.shape)) return `${name}: ${a.data.length} values for shape [${a.shape}]`;
      const ref = Object.hasOwn(NPZ_SEED, name) ? NPZ_SEED[name]! : undefined;
      // Every member is CRC-checked, so an array that parses under an original name must be the original.
      if (ref && (a.dtype !== ref.dtype || a.shape.join() !== ref.shape.join() || !sameBytes(a.data, ref.data))) return `${name}: parsed, but differs from the archived array`;
    }
    return null;
  },
};

const png: FuzzTarget = {
  name: 'png',
  setup(seedDir) {
    const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => (i % 17) / 16);
    fs.writeFileSync(path.join(seedDir, 'gray8.png'), encodePng({ width: 5, height: 4, channels: 1, data: ramp(20) }));
    fs.writeFileSync(path.join(seedDir, 'rgb16.png'), encodePng({ width: 4, height: 3, channels: 3, data: ramp(36) }, { bitDepth: 16 }));
    fs.writeFileSync(path.join(seedDir, 'rgba8.png'), encodePng({ width: 6, height: 2, channels: 4, data: ramp(48) }));
  },
  build(seedDir, caseDir, seed) {
    const names = ['gray8.png', 'rgb16.png', 'rgba8.png'];
    const original = fs.readFileSync(path.join(seedDir, names[pick(3, seed)]!));
    const file = path.join(caseDir, 'case.png');
    fs.writeFileSync(file, mutateBytes(original, seed + 1));
    return file;
  },
  run(seedDir, caseDir, seed) {
    const img = readPng(this.build!(seedDir, caseDir, seed));
    if (img.data.length !== img.width * img.height * img.channels) return `${img.data.length} samples for ${img.width}×${img.height}×${img.channels}`;
    if (img.width * img.height > readLimits().maxImagePixels) return `size ${img.width}×${img.height} above the pixel limit`;
    for (const v of img.data) if (!(v >= 0 && v <= 1)) return `sample ${v} outside [0, 1]`;
    return null;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// JSON and configs.

const JSON_SEED = { w: 64, h: 64, fl_x: 120.5, frames: [{ file_path: 'images/00000.png', transform_matrix: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 2], [0, 0, 0, 1]] }], note: 'é ✓' };

const json: FuzzTarget = {
  name: 'json',
  setup(seedDir) {
    fs.writeFileSync(path.join(seedDir, 'seed.json'), JSON.stringify(JSON_SEED));
  },
  run(seedDir, caseDir, seed) {
    const text = mutateJson(fs.readFileSync(path.join(seedDir, 'seed.json'), 'utf8'), seed);
    const file = path.join(caseDir, 'case.json');
    fs.writeFileSync(file, text);
    const value = readJson(file);
    let reference: unknown;
    try {
      reference = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch {
      return 'accepted text that JSON.parse rejects';
    }
    return JSON.stringify(value) === JSON.stringify(reference) ? null : 'parsed to a different value than JSON.parse';
  },
};

const SCHEDULER_SEED = {
  _class_name: 'DDIMScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', clip_sample: false,
  num_train_timesteps: 1000, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, trained_betas: null,
};

const schedulerConfig: FuzzTarget = {
  name: 'scheduler-config',
  setup(seedDir) {
    for (const cls of ['DDIMScheduler', 'LCMScheduler', 'DDPMScheduler']) {
      fs.writeFileSync(path.join(seedDir, `${cls}.json`), JSON.stringify({ ...SCHEDULER_SEED, _class_name: cls }));
    }
  },
  run(seedDir, caseDir, seed) {
    const cls = ['DDIMScheduler', 'LCMScheduler', 'DDPMScheduler'][pick(3, seed)]!;
    const file = path.join(caseDir, 'scheduler_config.json');
    fs.writeFileSync(file, mutateJson(fs.readFileSync(path.join(seedDir, `${cls}.json`), 'utf8'), seed + 1));
    const scheduler = readSchedulerConfig(file);
    const T = (scheduler.config as { num_train_timesteps: number }).num_train_timesteps;
    if (!(T >= 1 && T <= MAX_TRAIN_TIMESTEPS)) return `num_train_timesteps ${T}`;
    const alphas = (scheduler as unknown as { alphasCumprod: Float32Array }).alphasCumprod;
    if (alphas.length !== T || !alphas.every((a) => a >= 0 && a <= 1)) return 'ᾱ outside [0, 1] or of the wrong length';
    scheduler.setTimesteps(Math.min(4, T));
    if (!scheduler.timesteps.every((t) => Number.isInteger(t) && t >= 0 && t < T)) return `timesteps ${scheduler.timesteps.slice(0, 8).join(', ')}`;
    return null;
  },
};

const UNET_SEED = {
  _class_name: 'UNet2DConditionModel', _diffusers_version: '0.30.0', sample_size: 16, in_channels: 4, out_channels: 4,
  block_out_channels: [32, 64], layers_per_block: 1, down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'], cross_attention_dim: 32, attention_head_dim: 8, norm_num_groups: 32,
};

const modelConfig: FuzzTarget = {
  name: 'model-config',
  setup(seedDir) {
    fs.writeFileSync(path.join(seedDir, 'config.json'), JSON.stringify(UNET_SEED));
  },
  run(seedDir, caseDir, seed) {
    fs.writeFileSync(path.join(caseDir, 'config.json'), mutateJson(fs.readFileSync(path.join(seedDir, 'config.json'), 'utf8'), seed));
    const raw = readModelConfig(caseDir);
    const c = resolveUNetConfig(Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_'))));
    const L = MODEL_CONFIG_LIMITS;
    if (c.block_out_channels.length > L.maxBlocks || c.block_out_channels.some((ch) => ch > L.maxChannels)) return `block_out_channels ${c.block_out_channels}`;
    if (c.in_channels > L.maxChannels || c.out_channels > L.maxChannels || c.cross_attention_dim > L.maxChannels) return 'channels above the limit';
    return null;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Dataset layouts.

const S = 8;
const image = (k: number) => ({ width: S, height: S, channels: 3, data: Float32Array.from({ length: S * S * 3 }, (_, i) => ((i + k) % 11) / 10) });
const mask = () => ({ width: S, height: S, channels: 1, data: new Float32Array(S * S).fill(1) });
const c2w = (k: number) => [1, 0, 0, 0.01 * k, 0, 1, 0, 0, 0, 0, 1, 0.6, 0, 0, 0, 1];

function datasetTarget(name: 'insta' | 'nerface' | 'imavatar', write: (dir: string) => void, read: (dir: string) => AvatarDataset): FuzzTarget {
  return {
    name,
    setup(seedDir) {
      write(path.join(seedDir, 'dataset'));
    },
    run(seedDir, caseDir, seed) {
      const root = path.join(caseDir, 'dataset');
      copyTree(path.join(seedDir, 'dataset'), root);
      mutateTree(root, seed, outsideFile(seedDir));
      return checkDataset(read(root), root);
    },
  };
}

const insta = datasetTarget(
  'insta',
  (dir) =>
    writeInstaDataset(dir, {
      width: S, height: S, fx: 12, fy: 12, cx: 4, cy: 4, testFrames: 1, valFrames: 1,
      frames: [0, 1, 2, 3].map((k) => ({ id: `0000${k}`, image: image(k), mask: mask(), cameraToWorld: c2w(k), expression: [0.1 * k, -0.2, 0.3], pose: [0, 0.1, 0, 0.05 * k, 0, 0], emotion: 'happy' })),
    }),
  (dir) => readInstaDataset(dir, { testFrames: 1, valFrames: 1 }),
);

const nerface = datasetTarget(
  'nerface',
  (dir) =>
    writeNerfaceDataset(dir, {
      width: S, height: S, fx: -12, fy: 12, cx: 4, cy: 4,
      frames: [0, 1, 2, 3].map((k) => ({ id: `f_000${k}`, split: (['train', 'train', 'val', 'test'] as const)[k]!, image: image(k), cameraToWorld: c2w(k), expression: [0.1 * k, 0.2, -0.3, 0.4] })),
    }),
  (dir) => readNerfaceDataset(dir),
);

const imavatar = datasetTarget(
  'imavatar',
  (dir) =>
    writeImavatarDataset(dir, {
      width: S, height: S, fx: 12, fy: 12, cx: 4, cy: 4, shape: [0.1, 0.2],
      frames: [0, 1, 2, 3].map((k) => ({ id: `${k + 1}`, image: image(k), mask: mask(), cameraToWorld: c2w(k), expression: [0.1 * k, 0.2], pose: Array.from({ length: 15 }, (_, i) => (i === 6 ? 0.1 * k : 0)) })),
    }),
  (dir) => readImavatarDataset(dir, { testFrames: 1, valFrames: 1 }),
);

// ---------------------------------------------------------------------------------------------------------------
// Emotion: the MEAD tree and the expression database file.

const meadTree: FuzzTarget = {
  name: 'mead-tree',
  setup(seedDir) {
    const root = path.join(seedDir, 'mead');
    const clip = (emotion: string, level: number) => path.join(root, 'M003', 'front', emotion, `level_${level}`);
    const frames = (t: number) => Float32Array.from({ length: t * 4 }, (_, i) => Math.sin(i));
    fs.mkdirSync(clip('happy', 3), { recursive: true });
    fs.writeFileSync(path.join(clip('happy', 3), '001.npy'), encodeNpy({ dtype: 'float32', shape: [3, 4], data: frames(3) }));
    fs.mkdirSync(clip('neutral', 1), { recursive: true });
    fs.writeFileSync(path.join(clip('neutral', 1), '002.json'), JSON.stringify([[0, 0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]]));
    fs.mkdirSync(path.join(clip('sad', 3), '003'), { recursive: true });
    for (let t = 0; t < 2; t++) fs.writeFileSync(path.join(clip('sad', 3), '003', `${t}.txt`), '0.5 -0.25 0.125 1\n');
    fs.mkdirSync(clip('angry', 3), { recursive: true });
    fs.writeFileSync(path.join(clip('angry', 3), '004.npz'), encodeNpz({ exp: { dtype: 'float32', shape: [2, 4], data: frames(2) } }));
  },
  run(seedDir, caseDir, seed) {
    const root = path.join(caseDir, 'mead');
    copyTree(path.join(seedDir, 'mead'), root);
    mutateTree(root, seed, outsideFile(seedDir), 0.35);
    const db = buildMeadDatabase(root);
    if (!finite(db.vectors)) return 'non-finite vectors';
    if (db.vectors.length !== db.size * db.dimension) return 'vectors of the wrong length';
    return null;
  },
};

const expressionDb: FuzzTarget = {
  name: 'expression-db',
  setup(seedDir) {
    const db = ExpressionDatabase.fromArrays({
      dimension: 3, vectors: [1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, 0.5, 0], labels: ['happy', 'happy', 'sad', 'neutral'],
      clipIds: ['a', 'a', 'b', 'c'], actors: ['M003', 'M003', 'W009', 'W009'], intensities: [3, 3, 3, 1],
    });
    saveExpressionDatabase(db, path.join(seedDir, 'db'));
  },
  run(seedDir, caseDir, seed) {
    for (const ext of ['.safetensors', '.json']) fs.copyFileSync(path.join(seedDir, `db${ext}`), path.join(caseDir, `db${ext}`));
    mutateTree(caseDir, seed, outsideFile(seedDir), 0.5);
    const db = loadExpressionDatabase(path.join(caseDir, 'db'));
    if (!finite(db.vectors)) return 'non-finite vectors';
    for (let i = 0; i < db.size; i++) {
      if (db.frameIndices[i]! < 0) return `negative frame index at row ${i}`;
      const clip = db.clips[db.clipIndices[i]!];
      if (!clip || !(clip.intensity >= 0 && clip.intensity <= 100)) return `clip of row ${i} has intensity ${clip?.intensity}`;
    }
    return null;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints and the training state.

const CKPT = {
  config: { lr: 0.001, layers: [4, 2] },
  state: { step: 3, note: 'seed' },
};

const checkpoint: FuzzTarget = {
  name: 'checkpoint',
  setup(seedDir) {
    const w = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const b = tf.tensor1d([0.5, -0.5]);
    saveCheckpoint(path.join(seedDir, 'run', 'step-000003'), {
      config: CKPT.config, tensors: { w, b }, optimizerTensors: { 'w.exp_avg': w, 'w.exp_avg_sq': w }, state: CKPT.state,
    });
    tf.dispose([w, b]);
  },
  run(seedDir, caseDir, seed) {
    const run = path.join(caseDir, 'run');
    copyTree(path.join(seedDir, 'run'), run);
    mutateTree(run, seed, outsideFile(seedDir), 0.3);
    const loaded = loadCheckpoint(path.join(run, 'step-000003'));
    try {
      // Every file is checksummed, so what loads must be what was saved.
      if (JSON.stringify(loaded.config) !== JSON.stringify(CKPT.config)) return 'config differs from the saved one';
      if (JSON.stringify(loaded.state) !== JSON.stringify(CKPT.state)) return 'state differs from the saved one';
      const w = loaded.tensors.w?.dataSync(), b = loaded.tensors.b?.dataSync();
      if (!w || !b || Array.from(w).join() !== '1,2,3,4,5,6' || Array.from(b).join() !== '0.5,-0.5' || Object.keys(loaded.tensors).length !== 2) {
        return 'tensors differ from the saved ones';
      }
      return null;
    } finally {
      tf.dispose([...Object.values(loaded.tensors), ...Object.values(loaded.optimizerTensors ?? {})]);
    }
  },
};

const ITERATIONS = 6;

function trainingRun() {
  const model = new nn.Linear(2, 2, { rng: new Rng(1) });
  const optimizer = new AdamW(model, { lr: 0.01 });
  const loop = new TrainingLoopState(new Rng(2).fork('train'), 2, ITERATIONS);
  return { model, optimizer, loop, config: { iterations: ITERATIONS } };
}

/** Rewrite `checksums.json` after `state.json` was changed (a hand edit or a writer bug, not bit rot). */
function resealChecksums(dir: string): void {
  const manifest = path.join(dir, 'checksums.json');
  const files: Record<string, string> = {};
  for (const name of ['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) files[name] = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  }
  fs.writeFileSync(manifest, JSON.stringify({ algorithm: 'sha256', files }));
}

const stateJson: FuzzTarget = {
  name: 'state-json',
  setup(seedDir) {
    const { model, optimizer, loop, config } = trainingRun();
    const x = tf.tensor2d([[1, 2]]);
    for (let i = 0; i < 3; i++) loop.record(optimizer.step(() => tf.sum(model.forward(x)) as tf.Scalar).loss);
    const manager = new CheckpointManager(path.join(seedDir, 'run'));
    saveTrainingCheckpoint(manager, loop.step, { model, optimizer, config, state: loop.toState() });
    manager.close();
    tf.dispose(x);
    optimizer.dispose();
    model.dispose();
  },
  run(seedDir, caseDir, seed) {
    const run = path.join(caseDir, 'run');
    copyTree(path.join(seedDir, 'run'), run);
    const dir = path.join(run, 'step-000003');
    const state = path.join(dir, 'state.json');
    fs.writeFileSync(state, mutateJson(fs.readFileSync(state, 'utf8'), seed));
    resealChecksums(dir);
    const { model, optimizer, loop, config } = trainingRun();
    try {
      const manager = new CheckpointManager(run, { lock: false });
      const resumed = resumeTraining(manager, { model, optimizer, config, validateState: (s) => loop.checkState(s) });
      if (!resumed) return 'no checkpoint found';
      loop.restore(resumed.state);
      if (!Number.isInteger(loop.step) || loop.step < 0 || loop.step > ITERATIONS) return `step ${loop.step}`;
      if (!Number.isSafeInteger(optimizer.steps) || optimizer.steps < 0) return `optimizer step ${optimizer.steps}`;
      const draws = [0, 1, 2, 3].map(() => loop.rng.nextUint32());
      if (draws.every((d) => d === 0)) return 'the restored generator is stuck at zero';
      if (!loop.lossLog.every((e) => Number.isFinite(e.loss) && e.step <= loop.step)) return 'loss log with non-finite losses or future steps';
      return null;
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  },
};

/** Every target, in table order. */
export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  safetensors, npy, npz, png, json, schedulerConfig, modelConfig, insta, nerface, imavatar, meadTree, expressionDb, checkpoint, stateJson,
];
