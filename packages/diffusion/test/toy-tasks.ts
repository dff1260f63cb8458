/**
 * Toy tasks for the training tests and benches (pixel space, NHWC, values in [−1, 1]):
 * - two-class 8×8 RGB patterns (class 0: a disk, class 1: stripes, each with a small colour jitter) with one-hot text tokens and a zero "empty prompt" — a conditional teacher for LCM distillation;
 * - 16×16 single-channel disks at a random position, with a condition image in [0, 1] that marks only the centre
 *   (a 3×3 dot) — the ControlNet task.
 */
import * as fs from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Adam, FormatError, Rng, tf, ValidationError, writeJsonAtomic } from '@consistent-avatar/core';
import { resultMeta } from '../../../scripts/bench/result-meta.js';
import { DDPMScheduler, type UNet2DConditionConfig, type UNet2DConditionModel } from '../src/index.js';

/** The tiny UNet of the API / training tests: 16-d text tokens, cross-attention at full resolution (4 in/out channels by default). */
export const TINY_UNET: Partial<UNet2DConditionConfig> = {
  block_out_channels: [16, 32],
  layers_per_block: 1,
  norm_num_groups: 8,
  cross_attention_dim: 16,
  attention_head_dim: 4,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
};

/** The teacher / student architecture of the LCM toy task: {@link TINY_UNET} on RGB with 8-d class tokens. */
export const TOY_CLASS_UNET: Partial<UNet2DConditionConfig> = { ...TINY_UNET, in_channels: 3, out_channels: 3, cross_attention_dim: 8 };

/** The UNet of the ControlNet toy task (16×16×1 pixels). */
export const TOY_DISK_UNET: Partial<UNet2DConditionConfig> = {
  in_channels: 1,
  out_channels: 1,
  block_out_channels: [16, 32],
  layers_per_block: 1,
  norm_num_groups: 8,
  cross_attention_dim: 8,
  attention_head_dim: 4,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'UpBlock2D'],
};

/** The training noise schedule of both toys (SD's scaled_linear; LCM's defaults). */
export const TOY_NOISE = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false } as const;

/**
 * The class task's teacher predicts x0 (`prediction_type: 'sample'`): a tiny ε-model trained for a few hundred steps
 * is too inaccurate at high t (x̂0 = (x − √(1−ᾱ)ε̂)/√ᾱ amplifies its error 14× at t = 999) and its DDIM samples leave
 * the data range; an x0-model gives in-range samples after the same training.
 */
export const TOY_CLASS_NOISE = { ...TOY_NOISE, prediction_type: 'sample' } as const;

/**
 * One 8×8×3 image of class k: a fixed shape per class with a small colour jitter (±0.05), so each class's
 * distribution is narrow. With wide multi-modal classes, the per-sample comparison with the teacher's DDIM-50 samples
 * would be dominated by which mode the fresh noise of multi-step LCM lands in, not by distillation quality.
 */
export function classImage(k: number, rng: Rng): Float32Array {
  const S = 8;
  const img = new Float32Array(S * S * 3);
  const jitter = (rng.uniform(1)[0]! - 0.5) * 0.1;
  if (k === 0) {
    const colour = [0.8 + jitter, 0.3 + jitter, -0.5];
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = (y - 3.5) ** 2 + (x - 3.5) ** 2 < 7 ? colour[c]! : -0.8;
  } else {
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = (Math.floor(x / 2) % 2 ? 0.8 + jitter : -0.8) * (c === 2 ? 1 : 0.4);
  }
  return img;
}

/** Text tokens `[B, 1, 8]`: one-hot class in the first two features. */
export function classTokens(labels: number[]): tf.Tensor3D {
  const d = new Float32Array(labels.length * 8);
  labels.forEach((k, b) => (d[b * 8 + k] = 1));
  return tf.tensor3d(d, [labels.length, 1, 8]);
}

/** A batch of the class task: x0 `[B, 8, 8, 3]`, labels. */
export function classBatch(rng: Rng, B: number): { x0: tf.Tensor4D; labels: number[] } {
  const labels = Array.from({ length: B }, () => rng.int(2));
  const data = new Float32Array(B * 192);
  labels.forEach((k, b) => data.set(classImage(k, rng), b * 192));
  return { x0: tf.tensor4d(data, [B, 8, 8, 3]), labels };
}

/** A disk image `[16, 16, 1]` (flattened) at (cy, cx) and its 3×3 centre-dot condition in [0, 1]. */
export function diskPair(cy: number, cx: number): { image: Float32Array; condition: Float32Array } {
  const S = 16;
  const image = new Float32Array(S * S);
  const condition = new Float32Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      image[y * S + x] = (y - cy) ** 2 + (x - cx) ** 2 <= 9 ? 0.9 : -0.9;
      condition[y * S + x] = Math.abs(y - cy) <= 1 && Math.abs(x - cx) <= 1 ? 1 : 0;
    }
  }
  return { image, condition };
}

/**
 * The disk centres held out of every training draw: 20 of the 100 possible centres (cy, cx ∈ 3 … 12) spread over the
 * grid, those with (cy + cx) divisible by 5. Training batches never use them; the evaluation uses only them.
 */
export const HELD_OUT_CENTRES: ReadonlyArray<readonly [number, number]> = Array.from({ length: 100 }, (_, k) => [3 + Math.floor(k / 10), 3 + (k % 10)] as const).filter(([cy, cx]) => (cy + cx) % 5 === 0);
const isHeldOut = (cy: number, cx: number) => (cy + cx) % 5 === 0;

/**
 * A batch of the disk task: x0 `[B, 16, 16, 1]`, conditions `[B, 16, 16, 1]`, centres. `which: 'train'` (default)
 * draws only centres outside {@link HELD_OUT_CENTRES}; `'held-out'` draws only from it.
 */
export function diskBatch(rng: Rng, B: number, which: 'train' | 'held-out' = 'train'): { x0: tf.Tensor4D; condition: tf.Tensor4D; centres: Array<[number, number]> } {
  const xs = new Float32Array(B * 256);
  const cs = new Float32Array(B * 256);
  const centres: Array<[number, number]> = [];
  for (let b = 0; b < B; b++) {
    let cy: number, cx: number;
    if (which === 'held-out') {
      [cy, cx] = HELD_OUT_CENTRES[rng.int(HELD_OUT_CENTRES.length)]!;
    } else {
      do {
        cy = 3 + rng.int(10);
        cx = 3 + rng.int(10);
      } while (isHeldOut(cy, cx));
    }
    centres.push([cy, cx]);
    const p = diskPair(cy, cx);
    xs.set(p.image, b * 256);
    cs.set(p.condition, b * 256);
  }
  return { x0: tf.tensor4d(xs, [B, 16, 16, 1]), condition: tf.tensor4d(cs, [B, 16, 16, 1]), centres };
}

/**
 * Train an ε-prediction UNet with Adam. `batch(rng)` gives x0 and the text tokens (with CFG dropout already applied
 * if wanted). Returns the mean loss of the last 20 steps.
 */
export function trainEpsilon(unet: UNet2DConditionModel, steps: number, lr: number, rng: Rng, batch: (rng: Rng) => { x0: tf.Tensor4D; text: tf.Tensor3D }, target: 'epsilon' | 'sample' = 'epsilon'): number {
  const scheduler = new DDPMScheduler(TOY_NOISE);
  const opt = new Adam(unet, { lr });
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { x0, text } = batch(rng);
    const B = x0.shape[0];
    const ts = Array.from({ length: B }, () => rng.int(1000));
    const noise = tf.tensor(rng.normal(x0.size), x0.shape);
    const xt = scheduler.addNoise(x0, noise, ts) as tf.Tensor4D;
    losses.push(opt.step(() => tf.losses.meanSquaredError(target === 'epsilon' ? noise : x0, unet.forward(xt, ts, text)) as tf.Scalar).loss);
    tf.dispose([x0, text, noise, xt]);
  }
  opt.dispose();
  return losses.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, losses.length);
}

/** Class-task batch with 20 % of the prompts replaced by the empty (zero) prompt (CFG training). */
export function classTrainingBatch(rng: Rng, B = 16): { x0: tf.Tensor4D; text: tf.Tensor3D } {
  const { x0, labels } = classBatch(rng, B);
  const drop = rng.bernoulli(B, 0.2);
  const text = tf.tidy(() => tf.mul(classTokens(labels), tf.tensor3d(Array.from(drop, (d) => 1 - d), [B, 1, 1])) as tf.Tensor3D);
  return { x0, text };
}

/** Result of {@link distillationToy}. */
export interface DistillationToyResult {
  teacherLoss: number;
  distillLossFirst: number;
  distillLossLast: number;
  /** MSE to the teacher's 50-step DDIM samples. */
  mseTeacherDdim4: number;
  mseStudentLcm4: number;
  /** The untrained student (= teacher weights) sampled with LCM in 4 steps, for reference. */
  mseInitialStudentLcm4: number;
  seconds: number;
}

/**
 * The LCM distillation check end to end: train a class-conditional teacher (x0-prediction, CFG dropout), distil a student, then
 * compare on `evalCount` fixed noises with guidance g: teacher DDIM-4 (trailing spacing, the better 4-step choice)
 * and student LCM-4 (w = g − 1), both against the teacher's DDIM-50 samples with the same noise and g.
 */
export async function distillationToy(o: { teacherSteps: number; distillSteps: number; batch: number; evalCount: number; guidance: number; seed: number; onLog?: (s: string) => void }): Promise<DistillationToyResult> {
  const { UNet2DConditionModel, LcmDistillTrainer, DDIMScheduler, LCMScheduler, sample, lcmStudentFromTeacher } = await import('../src/index.js');
  const start = Date.now();
  const rng = new Rng(o.seed);
  const teacher = new UNet2DConditionModel(TOY_CLASS_UNET, { seed: o.seed });
  const teacherLoss = trainEpsilon(teacher, o.teacherSteps, 2e-3, rng.fork('teacher'), (r) => classTrainingBatch(r, o.batch), 'sample');
  o.onLog?.(`teacher trained: loss ${teacherLoss.toFixed(4)} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
  const N = 10;
  const trainer = new LcmDistillTrainer(teacher, { timeCondProjDim: 16, numDdimTimesteps: N, wMin: o.guidance - 2, wMax: o.guidance, learningRate: 5e-4, emaDecay: 0.95, seed: o.seed }, TOY_CLASS_NOISE);
  const losses = trainer.train((r) => {
    const { x0, labels } = classBatch(r, o.batch);
    return { latents: x0, encoderHiddenStates: classTokens(labels), negativeEncoderHiddenStates: tf.zeros([o.batch, 1, 8]) };
  }, o.distillSteps).map((r) => r.loss);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const k = Math.max(1, Math.min(10, Math.floor(losses.length / 3)));
  o.onLog?.(`distilled: loss ${mean(losses.slice(0, k)).toFixed(5)} → ${mean(losses.slice(-k)).toFixed(5)} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
  // Evaluation.
  const evalRng = new Rng(o.seed + 1000);
  const labels = Array.from({ length: o.evalCount }, (_, i) => i % 2);
  const text = classTokens(labels);
  const empty = tf.zeros([o.evalCount, 1, 8]);
  const latents = tf.tensor4d(evalRng.normal(o.evalCount * 192), [o.evalCount, 8, 8, 3]);
  const ddim = () => new DDIMScheduler({ ...TOY_CLASS_NOISE, timestep_spacing: 'trailing', set_alpha_to_one: true });
  const lcm = () => new LCMScheduler({ ...TOY_CLASS_NOISE, original_inference_steps: N });
  const cfg = { encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: o.guidance, latents };
  const ref = sample({ unet: teacher, scheduler: ddim(), numInferenceSteps: 50, ...cfg });
  const t4 = sample({ unet: teacher, scheduler: ddim(), numInferenceSteps: 4, ...cfg });
  const s4 = sample({ unet: trainer.target, scheduler: lcm(), numInferenceSteps: 4, encoderHiddenStates: text, guidanceScale: o.guidance, latents, rng: new Rng(o.seed + 7) });
  const fresh = lcmStudentFromTeacher(teacher, 16);
  const i4 = sample({ unet: fresh, scheduler: lcm(), numInferenceSteps: 4, encoderHiddenStates: text, guidanceScale: o.guidance, latents, rng: new Rng(o.seed + 7) });
  const mse = (a: tf.Tensor) => tf.tidy(() => tf.mean(tf.square(tf.sub(a, ref))).dataSync()[0]!);
  const result: DistillationToyResult = {
    teacherLoss,
    distillLossFirst: mean(losses.slice(0, k)),
    distillLossLast: mean(losses.slice(-k)),
    mseTeacherDdim4: mse(t4),
    mseStudentLcm4: mse(s4),
    mseInitialStudentLcm4: mse(i4),
    seconds: (Date.now() - start) / 1000,
  };
  tf.dispose([text, empty, latents, ref, t4, s4, i4]);
  fresh.dispose();
  trainer.dispose();
  teacher.dispose();
  return result;
}

/** Result of {@link controlnetToy}. */
export interface ControlNetToyResult {
  baseLoss: number;
  controlLossFirst: number;
  controlLossLast: number;
  /** x̂0 MSE to the true disk image from x_t at t = 600 (mean over the eval set and 4 noise draws). */
  x0MseWithout: number;
  x0MseWith: number;
  /** Same ControlNet fed the conditions of other samples (a shuffled condition). */
  x0MseShuffled: number;
  /** Distance (pixels) between the sampled disk's centroid (DDIM-20) and the conditioned centre. */
  centreErrorWithout: number;
  centreErrorWith: number;
  seconds: number;
}

/** Centroid (y, x) of the pixels above 0 of an `[H, W]` image. */
function brightCentroid(img: Float32Array, S: number): [number, number] {
  let sy = 0, sx = 0, n = 0;
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) if (img[y * S + x]! > 0) { sy += y; sx += x; n++; }
  return n ? [sy / n, sx / n] : [S / 2, S / 2];
}

/**
 * The ControlNet check: train an unconditional disk UNet (random positions), then a ControlNet from it (UNet frozen)
 * on the centre-dot condition, and measure how well the output follows the condition with and without it.
 */
export async function controlnetToy(o: { baseSteps: number; controlSteps: number; batch: number; evalCount: number; seed: number; sampleSteps?: number; onLog?: (s: string) => void }): Promise<ControlNetToyResult> {
  const { UNet2DConditionModel, ControlNetModel, DDIMScheduler, DDPMScheduler: Ddpm, sample } = await import('../src/index.js');
  const start = Date.now();
  const rng = new Rng(o.seed);
  const unet = new UNet2DConditionModel(TOY_DISK_UNET, { seed: o.seed });
  const baseLoss = trainEpsilon(unet, o.baseSteps, 2e-3, rng.fork('base'), (r) => ({ x0: diskBatch(r, o.batch).x0, text: tf.zeros([o.batch, 1, 8]) as tf.Tensor3D }));
  o.onLog?.(`base UNet trained: loss ${baseLoss.toFixed(4)} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
  unet.freeze();
  const controlnet = ControlNetModel.fromUnet(unet, { conditioningChannels: 1, conditioningEmbeddingOutChannels: [16], seed: o.seed });
  const scheduler = new Ddpm(TOY_NOISE);
  const opt = new Adam(controlnet, { lr: 1e-3 });
  const text = tf.zeros([o.batch, 1, 8]);
  const crng = rng.fork('control');
  const losses: number[] = [];
  for (let s = 0; s < o.controlSteps; s++) {
    const { x0, condition } = diskBatch(crng, o.batch);
    const ts = Array.from({ length: o.batch }, () => crng.int(1000));
    const noise = tf.tensor(crng.normal(x0.size), x0.shape);
    const xt = scheduler.addNoise(x0, noise, ts) as tf.Tensor4D;
    losses.push(opt.step(() => {
      const r = controlnet.forward(xt, ts, text, condition);
      return tf.losses.meanSquaredError(noise, unet.forward(xt, ts, text, { downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample })) as tf.Scalar;
    }).loss);
    tf.dispose([x0, condition, noise, xt]);
  }
  opt.dispose();
  text.dispose();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const k = Math.max(1, Math.min(20, Math.floor(losses.length / 3)));
  o.onLog?.(`ControlNet trained: loss ${mean(losses.slice(0, k)).toFixed(4)} → ${mean(losses.slice(-k)).toFixed(4)} (${((Date.now() - start) / 1000).toFixed(0)} s)`);
  // Evaluation on held-out positions: centres no training batch (base or ControlNet) ever drew.
  const erng = new Rng(o.seed + 1000);
  const { x0, condition, centres } = diskBatch(erng, o.evalCount, 'held-out');
  const shuffled = tf.concat([condition.slice([1, 0, 0, 0], [o.evalCount - 1, 16, 16, 1]), condition.slice([0, 0, 0, 0], [1, 16, 16, 1])], 0) as tf.Tensor4D;
  const evalText = tf.zeros([o.evalCount, 1, 8]);
  let without = 0, withC = 0, shuf = 0;
  const t = 600;
  const a = Math.sqrt(scheduler.alphasCumprod[t]!), sg = Math.sqrt(1 - scheduler.alphasCumprod[t]!);
  for (let rep = 0; rep < 4; rep++) {
    tf.tidy(() => {
      const noise = tf.tensor(erng.normal(x0.size), x0.shape);
      const xt = scheduler.addNoise(x0, noise, t) as tf.Tensor4D;
      const x0Mse = (eps: tf.Tensor) => tf.mean(tf.square(tf.sub(tf.div(tf.sub(xt, tf.mul(eps, sg)), a), x0))).dataSync()[0]!;
      const withRes = (cond: tf.Tensor4D) => {
        const r = controlnet.forward(xt, t, evalText, cond);
        return unet.forward(xt, t, evalText, { downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample });
      };
      without += x0Mse(unet.forward(xt, t, evalText)) / 4;
      withC += x0Mse(withRes(condition)) / 4;
      shuf += x0Mse(withRes(shuffled)) / 4;
    });
  }
  // Sampled centroids, same starting noise with and without the ControlNet (skipped with sampleSteps 0).
  const sampleSteps = o.sampleSteps ?? 20;
  const centreError = (imgs: tf.Tensor) => {
    const d = imgs.dataSync() as Float32Array;
    return mean(centres.map(([cy, cx], b) => {
      const [y, x] = brightCentroid(d.subarray(b * 256, (b + 1) * 256), 16);
      return Math.hypot(y - cy, x - cx);
    }));
  };
  let centreErrorWithout = Number.NaN, centreErrorWith = Number.NaN;
  if (sampleSteps > 0) {
    const latents = tf.tensor4d(erng.normal(o.evalCount * 256), [o.evalCount, 16, 16, 1]);
    const ddim = () => new DDIMScheduler({ ...TOY_NOISE, timestep_spacing: 'trailing', set_alpha_to_one: true });
    const plain = sample({ unet, scheduler: ddim(), numInferenceSteps: sampleSteps, latents, encoderHiddenStates: evalText });
    const controlled = sample({ unet, scheduler: ddim(), numInferenceSteps: sampleSteps, latents, encoderHiddenStates: evalText, controlnet, controlImage: condition });
    centreErrorWithout = centreError(plain);
    centreErrorWith = centreError(controlled);
    tf.dispose([latents, plain, controlled]);
  }
  const result: ControlNetToyResult = {
    baseLoss,
    controlLossFirst: mean(losses.slice(0, k)),
    controlLossLast: mean(losses.slice(-k)),
    x0MseWithout: without,
    x0MseWith: withC,
    x0MseShuffled: shuf,
    centreErrorWithout,
    centreErrorWith,
    seconds: (Date.now() - start) / 1000,
  };
  tf.dispose([x0, condition, shuffled, evalText]);
  controlnet.dispose();
  unet.dispose();
  return result;
}

/** One seed's figures in a `CA_HEAVY` result file (summarised as mean and sample std). */
export type HeavySeedFigures = { seed: number } & Record<string, number>;

/** How one seed of a `CA_HEAVY` run went: its wall time and the machine's load average before and after it. */
export interface HeavySeedRun {
  seed: number;
  seconds: number;
  /** `os.loadavg()` (1, 5, 15 min) when the seed started and when it ended: the machine is shared. */
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

/** The repository root (the heavy tests run from it). */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Where a `CA_HEAVY` run writes `<name>.json`: `CA_HEAVY_OUT_DIR` (relative to the repository root; e.g.
 * `packages/diffusion/bench/results`, where the committed results live), else `.runs/heavy/`.
 */
export function heavyResultPath(name: string): string {
  return path.resolve(REPO_ROOT, process.env.CA_HEAVY_OUT_DIR ?? '.runs/heavy', `${name}.json`);
}

/**
 * Run a `CA_HEAVY` toy experiment seed by seed and write its result file (issue 17) after **every** seed, before
 * any assertion, so a failing or interrupted run still leaves its figures: every seed's figures, their mean and
 * sample std, the run of each seed (wall time, load average before and after), and the provenance taken when the run
 * started (the exact command that re-creates the file, commit, dirty flag, date, machine, load average), the backend,
 * the seeds (`CA_HEAVY_SEEDS`, default 0,1,2) and the setup. `complete` is false until the last seed is in.
 * The caller asserts on the returned figures afterwards. Runs resume: seeds already in an existing file with the same
 * setup and commit are taken from it, not re-run.
 * @param name - the file's base name (`controlnet-toy` → `<out dir>/controlnet-toy.json`, see {@link heavyResultPath}).
 * @param testFile - the test file's path from the repository root (goes into the command).
 * @param setup - the run's configuration (JSON).
 * @param runSeed - one seed's experiment; returns that seed's figures (numbers only; ratios included, so the docs can quote them).
 * @returns the path written and every seed's figures.
 * @example
 * const { file, perSeed } = await runHeavySeeds('controlnet-toy', 'packages/diffusion/src/controlnet/controlnet-training.test.ts', setup, async (seed) => ({ x0MseWith: 0.1 }));
 */
export async function runHeavySeeds(name: string, testFile: string, setup: object, runSeed: (seed: number) => Promise<Record<string, number>>): Promise<{ file: string; perSeed: HeavySeedFigures[] }> {
  const seeds = heavySeeds();
  const outDir = process.env.CA_HEAVY_OUT_DIR;
  const command = `CA_HEAVY=1 CA_HEAVY_SEEDS=${seeds.join(',')}${outDir ? ` CA_HEAVY_OUT_DIR=${outDir}` : ''} npx vitest run ${testFile}`;
  const meta = resultMeta(testFile, [], command);
  const file = heavyResultPath(name);
  const previous = readPrevious(file, setup, meta.commit);
  const perSeed: HeavySeedFigures[] = [];
  const runs: HeavySeedRun[] = [];
  for (const seed of seeds) {
    const done = previous?.perSeed.find((r) => r.seed === seed);
    const doneRun = previous?.runs.find((r) => r.seed === seed);
    if (done && doneRun) {
      perSeed.push(done);
      runs.push(doneRun);
      continue;
    }
    const loadAverageAtStart = loadavg();
    const start = Date.now();
    const figures = await runSeed(seed);
    perSeed.push({ seed, ...figures });
    runs.push({ seed, seconds: (Date.now() - start) / 1000, loadAverageAtStart, loadAverageAtEnd: loadavg() });
    writeJsonAtomic(file, { ...meta, backend: tf.getBackend(), seeds, complete: perSeed.length === seeds.length, setup, summary: summarise(perSeed), perSeed, runs });
  }
  return { file, perSeed };
}

/** Mean and sample std (n − 1) of every figure over the seeds. */
function summarise(perSeed: HeavySeedFigures[]): Record<string, { mean: number; std: number; min: number; max: number }> {
  const keys = Object.keys(perSeed[0] ?? {}).filter((k) => k !== 'seed');
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));
  return Object.fromEntries(keys.map((k) => {
    const v = perSeed.map((r) => r[k]!);
    return [k, { mean: mean(v), std: std(v), min: Math.min(...v), max: Math.max(...v) }];
  }));
}

/** The seeds of an earlier, interrupted run of the same setup at the same commit, if its file exists. */
function readPrevious(file: string, setup: object, commit: string | null): { perSeed: HeavySeedFigures[]; runs: HeavySeedRun[] } | null {
  if (!fs.existsSync(file) || commit === null) return null;
  let old: { commit?: string; setup?: object; perSeed?: HeavySeedFigures[]; runs?: HeavySeedRun[] };
  try {
    old = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FormatError('json', file, `an earlier result file that is not JSON (${(e as Error).message}); delete it to start over`);
  }
  if (old.commit !== commit || JSON.stringify(old.setup) !== JSON.stringify(setup)) return null;
  return { perSeed: old.perSeed ?? [], runs: old.runs ?? [] };
}

/** The seeds of a `CA_HEAVY` run: `CA_HEAVY_SEEDS=0,1,2` (default), for the run-to-run spread. */
export function heavySeeds(): number[] {
  const seeds = (process.env.CA_HEAVY_SEEDS ?? '0,1,2').split(',').map(Number);
  if (seeds.length === 0 || !seeds.every(Number.isInteger)) throw new ValidationError('heavySeeds', 'CA_HEAVY_SEEDS', 'comma-separated integers', process.env.CA_HEAVY_SEEDS);
  return seeds;
}
