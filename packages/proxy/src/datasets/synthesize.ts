/**
 * Synthetic talking-head datasets in the INSTA layout, rendered from the **synthetic** head with a scripted
 * performance: speech-like jaw motion (syllables within words and pauses, with vowel lip shapes), head motion,
 * blinks and gaze shifts, and emotion segments named with MEAD's labels (intensity ramps between segments). Each
 * frame stores the ground-truth parameters (`synthetic.json`), its emotion label (`transforms.json`), and
 * "tracked" parameters — the true ones with tracking noise and a one-frame-ish lag, as a monocular tracker would
 * give. The folder is the real INSTA layout ({@link writeInstaDataset}): RGBA images (alpha = the head's coverage),
 * face-parsing label maps in `seg_mask/`, the split files, `flame/exp` and the tracker's 6D `flame/jaw`; P is in
 * our `flame/pose` extension, because the camera is fixed and the head motion is in the global pose P[0:3] (the
 * synthetic "tracker" rotates the head, where metrical-tracker would move the camera).
 *
 * @example
 * ```ts
 * import { synthesizeDataset, readInstaDataset } from '@consistent-avatar/proxy';
 * await synthesizeDataset({ out: 'data/synthetic-0', frames: 400, size: 128, identity: 0, seed: 1 });
 * const ds = readInstaDataset('data/synthetic-0'); // split from transforms_{train,test}.json (100 test frames)
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, IoError, ValidationError, moveFolderIntoPlace, prepareFolderReplacement, readJson, writeJsonAtomic, Rng } from '@consistent-avatar/core';
import { lookAtCamera, type PinholeCamera } from '../raster/camera.js';
import { rasterize } from '../raster/rasterize.js';
import { defaultShCoefficients } from '../raster/shading.js';
import { SYNTHETIC_EMOTIONS, SYNTHETIC_EMOTION_PROTOTYPES, type SyntheticEmotion } from '../head/emotions.js';
import { createSyntheticHead, SYNTHETIC_NUM_EXPRESSION, type SyntheticHead } from '../head/synthetic-head.js';
import { writeInstaDataset, type InstaFrameInput } from './insta.js';

/** One frame of a scripted performance. */
export interface PerformanceFrame {
  /** True expression (100). */
  expression: Float32Array;
  /** True full pose (15: global, neck, jaw, eyeL, eyeR). */
  pose: Float32Array;
  emotion: SyntheticEmotion;
  /** Emotion intensity at this frame (0 … ~1.5; ramps at segment borders). */
  intensity: number;
  /** Whether the subject is talking at this frame. */
  speaking: boolean;
}

/** Tracked parameters (what a tracker would return). */
export interface TrackedFrame {
  expression: Float32Array;
  /** Paper pose P ∈ R^6 = global ⊕ jaw. */
  paperPose: Float32Array;
}

/**
 * Script a talking performance of `frames` frames at 25 fps.
 *
 * @example
 * ```ts
 * const perf = scriptPerformance(250, 7);
 * console.log(perf[100].emotion, perf[100].pose[6]); // label and jaw opening
 * ```
 */
export function scriptPerformance(frames: number, seed: number): PerformanceFrame[] {
  if (!Number.isInteger(frames) || frames < 1) throw new ValidationError('scriptPerformance', 'frames', 'a positive integer', frames);
  const rng = new Rng(seed).fork('performance');
  // 1. Emotion segments (50–90 frames), neutral first, then a seeded order of the other seven, repeating.
  const others = SYNTHETIC_EMOTIONS.filter((e) => e !== 'neutral');
  const perm = rng.permutation(others.length);
  const order: SyntheticEmotion[] = ['neutral', ...Array.from(perm, (i) => others[i]!)];
  const segments: { start: number; end: number; emotion: SyntheticEmotion; level: number }[] = [];
  for (let t = 0, k = 0; t < frames; k++) {
    const len = 50 + rng.int(41);
    const emotion = order[k % order.length]!;
    segments.push({ start: t, end: Math.min(frames, t + len), emotion, level: emotion === 'neutral' ? 0 : 0.7 + 0.7 * rng.next() });
    t += len;
  }
  // 2. Speech: words of 2–5 syllables (5–8 frames each) separated by pauses.
  const jaw = new Float32Array(frames), lips = new Float32Array(frames), pucker = new Float32Array(frames), stretch = new Float32Array(frames);
  const speaking = new Uint8Array(frames);
  for (let t = 8; t < frames; ) {
    const syllables = 2 + rng.int(4);
    for (let s = 0; s < syllables && t < frames; s++) {
      const len = 5 + rng.int(4);
      const peak = 0.05 + 0.14 * rng.next();
      const vowel = rng.int(3); // 0 open, 1 rounded ("oo"), 2 spread ("ee")
      for (let i = 0; i < len && t + i < frames; i++) {
        const env = Math.sin((Math.PI * (i + 0.5)) / len) ** 2;
        jaw[t + i] = peak * env;
        lips[t + i] = 0.9 * env * (peak / 0.12);
        if (vowel === 1) pucker[t + i] = 0.7 * env;
        if (vowel === 2) stretch[t + i] = 0.6 * env;
        speaking[t + i] = 1;
      }
      t += len;
    }
    t += 6 + rng.int(30); // pause
  }
  // 3. Blinks every 60–120 frames.
  const blink = new Float32Array(frames);
  const profile = [0.35, 0.8, 1, 0.85, 0.45, 0.15];
  for (let t = 20 + rng.int(40); t < frames; t += 60 + rng.int(61)) for (let i = 0; i < profile.length && t + i < frames; i++) blink[t + i] = profile[i]!;
  // 4. Head motion (slow sums of sines + nods while talking) and gaze shifts.
  const ph = rng.uniform(6, 0, 2 * Math.PI);
  let gazeYaw = 0, gazePitch = 0, nextGaze = 0;
  // Small smooth activity on the remaining components (a low-passed random walk).
  const restState = new Float32Array(SYNTHETIC_NUM_EXPRESSION);
  const out: PerformanceFrame[] = [];
  for (let t = 0; t < frames; t++) {
    const seg = segments.find((s) => t >= s.start && t < s.end)!;
    const ramp = Math.min(1, (t - seg.start + 1) / 12, (seg.end - t) / 12);
    const intensity = seg.level * Math.max(0, ramp);
    const proto = SYNTHETIC_EMOTION_PROTOTYPES[seg.emotion];
    const e = new Float32Array(SYNTHETIC_NUM_EXPRESSION);
    for (let k = 0; k < SYNTHETIC_NUM_EXPRESSION; k++) e[k] = proto.expression[k]! * intensity;
    const step = rng.normal(SYNTHETIC_NUM_EXPRESSION, 0, 0.08);
    for (let k = 16; k < SYNTHETIC_NUM_EXPRESSION; k++) {
      restState[k] = 0.9 * restState[k]! + step[k]!;
      e[k] = e[k]! + restState[k]!;
    }
    e[0] = e[0]! + lips[t]!;
    e[7] = e[7]! + pucker[t]!;
    e[12] = e[12]! + stretch[t]!;
    e[5] = Math.max(e[5]!, blink[t]!);
    if (t >= nextGaze) {
      gazeYaw = (rng.next() - 0.5) * 0.3;
      gazePitch = (rng.next() - 0.5) * 0.16;
      nextGaze = t + 30 + rng.int(50);
    }
    const time = t / 25;
    const pose = new Float32Array(15);
    pose[0] = 0.05 * Math.sin(2 * Math.PI * time / 4.4 + ph[0]!) + 0.02 * Math.sin(2 * Math.PI * time / 1.5 + ph[1]!) + 0.25 * jaw[t]! * 0.2; // pitch
    pose[1] = 0.13 * Math.sin(2 * Math.PI * time / 6 + ph[2]!) + 0.035 * Math.sin(2 * Math.PI * time / 2.1 + ph[3]!); // yaw
    pose[2] = 0.04 * Math.sin(2 * Math.PI * time / 3.6 + ph[4]!); // roll
    pose[6] = jaw[t]! + proto.jaw * intensity; // jaw
    pose[9] = gazePitch; pose[10] = gazeYaw; pose[12] = gazePitch; pose[13] = gazeYaw;
    out.push({ expression: e, pose, emotion: seg.emotion, intensity, speaking: speaking[t] === 1 });
  }
  return out;
}

/**
 * "Tracked" parameters from true ones: Gaussian noise (larger on the weak components) and a first-order lag
 * (tracked_t = α·noisy_t + (1 − α)·tracked_{t−1}, α = 0.6, i.e. ≈ 0.7 frames of lag), as monocular trackers show.
 *
 * @example
 * ```ts
 * const tracked = trackPerformance(scriptPerformance(100, 1), 1);
 * ```
 */
export function trackPerformance(performance: PerformanceFrame[], seed: number): TrackedFrame[] {
  const rng = new Rng(seed).fork('tracking');
  const alpha = 0.6;
  let prevE: Float32Array | null = null, prevP: Float32Array | null = null;
  return performance.map((f) => {
    const noiseE = rng.normal(SYNTHETIC_NUM_EXPRESSION);
    const e = new Float32Array(SYNTHETIC_NUM_EXPRESSION);
    for (let k = 0; k < e.length; k++) e[k] = f.expression[k]! + noiseE[k]! * (k < 16 ? 0.05 : 0.12);
    const noiseP = rng.normal(6);
    const p = new Float32Array(6);
    for (let k = 0; k < 3; k++) {
      p[k] = f.pose[k]! + noiseP[k]! * 0.004;
      p[3 + k] = f.pose[6 + k]! + noiseP[3 + k]! * 0.008;
    }
    if (prevE && prevP) {
      for (let k = 0; k < e.length; k++) e[k] = alpha * e[k]! + (1 - alpha) * prevE[k]!;
      for (let k = 0; k < 6; k++) p[k] = alpha * p[k]! + (1 - alpha) * prevP[k]!;
    }
    prevE = e;
    prevP = p;
    return { expression: e, paperPose: p };
  });
}

/** Options of {@link synthesizeDataset}. */
export interface SynthesizeOptions {
  /** Output folder (created). */
  out: string;
  /** Frames. Default 400. */
  frames?: number;
  /** Image size (square). Default 128; 512 works. */
  size?: number;
  /** Synthetic identity. Default 0. */
  identity?: number;
  /** Seed of the performance and tracking noise. Default 0. */
  seed?: number;
  /** Test frames (the last ones). Default min(350, ⌊frames / 4⌋). */
  testFrames?: number;
  /** Supersampling of the renders. Default 2. */
  supersample?: number;
  /** Progress callback (frames written). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The fixed camera of synthetic datasets (OpenCV axes; the head is at the origin, looking along +z).
 * @example
 * ```ts
 * const cam = syntheticCamera(128); // fx = fy = 249.6, principal point at the centre, OpenCV axes
 * ```
 */
export function syntheticCamera(size: number): PinholeCamera {
  const f = 1.95 * size;
  return lookAtCamera({ eye: [0, -0.01, 0.62], target: [0, -0.018, 0], fx: f, fy: f, width: size, height: size });
}

/** Ground truth stored in `synthetic.json`. */
export interface SyntheticTruth {
  label: 'synthetic';
  identity: number;
  seed: number;
  size: number;
  fps: number;
  shape: number[];
  frames: { id: string; emotion: SyntheticEmotion; intensity: number; speaking: boolean; expression: number[]; pose: number[] }[];
}


/**
 * Render a synthetic INSTA-layout dataset (see the module docs).
 *
 * The folder appears whole or not at all: everything is written into `<out>.tmp-<pid>-<n>` (ground truth
 * `synthetic.json` first, the `transforms*.json` files last) and renamed to `out` at the end, replacing a previous
 * dataset there. A run killed mid-way leaves only the temporary folder, which the next run removes; `out` must be
 * absent, an empty folder or a dataset (`transforms.json` / `synthetic.json`) — anything else is refused.
 *
 * @returns the dataset folder and its ground truth.
 * @example
 * ```ts
 * const { root } = await synthesizeDataset({ out: 'data/synth', frames: 200, size: 128, identity: 1, seed: 3 });
 * ```
 */
export async function synthesizeDataset(options: SynthesizeOptions): Promise<{ root: string; truth: SyntheticTruth }> {
  const fn = 'synthesizeDataset';
  if (!options || typeof options.out !== 'string' || options.out.length === 0) throw new ValidationError(fn, 'options.out', 'an output folder path', options?.out);
  const frames = options.frames ?? 400;
  const size = options.size ?? 128;
  const identity = options.identity ?? 0;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(frames) || frames < 2) throw new ValidationError(fn, 'options.frames', 'an integer ≥ 2', frames);
  if (!Number.isInteger(size) || size < 16 || size > 2048) throw new ValidationError(fn, 'options.size', 'an integer in [16, 2048]', size);
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError(fn, 'options.seed', 'a non-negative integer', seed);
  const testFrames = options.testFrames ?? Math.min(350, Math.floor(frames / 4));
  const { target: outAbs, temporary: tmp } = prepareFolderReplacement(fn, options.out, (names) => names.includes('transforms.json') || names.includes('synthetic.json'), 'a new folder, an empty one or a previous dataset (it is replaced)');
  const head: SyntheticHead = createSyntheticHead({ identity, textureSize: size > 256 ? 1024 : 512 });
  try {
    const perf = scriptPerformance(frames, seed);
    const tracked = trackPerformance(perf, seed);
    const camera = syntheticCamera(size);
    const sh = defaultShCoefficients();
    const ids = perf.map((_, i) => String(i).padStart(5, '0'));
    const instaFrames: InstaFrameInput[] = [];
    const chunk = 16;
    for (let start = 0; start < frames; start += chunk) {
      const part = perf.slice(start, start + chunk);
      const verts = head.verticesBatch(part.map((p) => ({ expression: p.expression, pose: p.pose })));
      part.forEach((p, j) => {
        const i = start + j;
        const r = rasterize({ positions: verts[j]!, faces: head.faces, uvs: head.uvs }, camera, {
          texture: head.albedo(p.expression), shading: 'sh', sh, supersample: options.supersample ?? 2,
        });
        instaFrames.push({
          id: ids[i]!,
          image: { width: size, height: size, channels: 3, data: r.rgb },
          mask: { width: size, height: size, channels: 1, data: r.mask },
          cameraToWorld: camera.cameraToWorld,
          expression: tracked[i]!.expression,
          pose: tracked[i]!.paperPose,
          emotion: p.emotion,
        });
        options.onProgress?.(i + 1, frames);
      });
      await new Promise((resolve) => setImmediate(resolve)); // stay responsive between chunks
    }
    const truth: SyntheticTruth = {
      label: 'synthetic', identity, seed, size, fps: 25, shape: Array.from(head.shape),
      frames: perf.map((p, i) => ({
        id: ids[i]!, emotion: p.emotion, intensity: p.intensity, speaking: p.speaking,
        expression: Array.from(p.expression), pose: Array.from(p.pose),
      })),
    };
    // 1. Everything into the temporary folder: the ground truth first, the transforms (what readers look for) last.
    try {
      writeJsonAtomic(path.join(tmp, 'synthetic.json'), truth);
      writeInstaDataset(tmp, {
        width: size, height: size, fx: camera.fx, fy: camera.fy, cx: camera.cx, cy: camera.cy, frames: instaFrames, testFrames,
        extra: { synthetic: true, identity, fps: 25 },
      });
    } catch (error) {
      // A system error (a full disk) names the dataset, not the temporary folder removed below.
      if (error instanceof IoError && (error.path === tmp || error.path.startsWith(tmp + path.sep))) {
        throw new IoError(`synthesize (${error.operation} ${path.relative(tmp, error.path) || '.'})`, outAbs, error.errno, error.message);
      }
      throw error;
    }
    // 2. Into place: a previous dataset is moved aside first and removed once the new one is there.
    moveFolderIntoPlace(tmp, outAbs);
    return { root: outAbs, truth };
  } finally {
    head.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Read `synthetic.json` (ground truth of a synthetic dataset).
 *
 * @example
 * ```ts
 * const truth = readSyntheticTruth('data/synth'); // truth.frames[i].expression, .pose, .emotion
 * ```
 */
export function readSyntheticTruth(root: string): SyntheticTruth {
  const file = path.join(root, 'synthetic.json');
  if (!fs.existsSync(file)) throw new FormatError('synthetic', file, 'missing: not a synthetic dataset');
  return readJson(file, (v) => {
    const t = v as SyntheticTruth;
    if (t?.label !== 'synthetic' || !Array.isArray(t.frames) || !Array.isArray(t.shape)) throw new Error("expected { label: 'synthetic', shape, frames }");
    return t;
  });
}
