/**
 * Latent consistency distillation (Luo et al. 2023, "Latent Consistency Models", Algorithm 1; diffusers
 * `examples/consistency_distillation/train_lcm_distill_sd_wds.py`): a student UNet learns the consistency function
 * f(x_t, w, c, t) ↦ x0 of the teacher's classifier-free-guided PF-ODE, so 1–8 LCM steps replace 25–50 solver steps.
 *
 * One training step, for a batch of clean latents x0 with text c (and unconditional text ∅):
 *   1. i ~ U{0..N−1} on the skipping-step grid, t_start = t_i, t = max(t_start − k, 0) (k = T/N);
 *   2. x_{t_start} = √ᾱ·x0 + √(1−ᾱ)·ε (forward process);
 *   3. w ~ U[w_min, w_max]; w_emb = guidanceScaleEmbedding(w) feeds the student and target through `timestepCond`;
 *   4. student: f_θ = c_skip(t_start)·x_{t_start} + c_out(t_start)·x̂0_θ (boundary conditions, σ_data 0.5,
 *      timestep_scaling 10 — Eq. 3 with the LCM scalings);
 *   5. teacher with CFG (Eq. 7 form): x̂0 = x̂0_c + w·(x̂0_c − x̂0_∅), ε̂ = ε̂_c + w·(ε̂_c − ε̂_∅); one DDIM solver step
 *      x_{t_start} → x_t (Eq. 8, Ψ = DDIM);
 *   6. target (EMA network θ⁻): f_θ⁻ = c_skip(t)·x_t + c_out(t)·x̂0_θ⁻(x_t, w, c, t);
 *   7. loss d(f_θ, f_θ⁻): L2 (mean squared) or pseudo-Huber mean(√((a − b)² + c²) − c) with c = 0.001;
 *   8. Adam step on θ, then θ⁻ ← μ·θ⁻ + (1 − μ)·θ (EMA, decay 0.95).
 *
 * The student is the teacher's architecture with `time_cond_proj_dim` added, initialised from the teacher's weights;
 * its `time_embedding.cond_proj` starts at zero, so the untrained student equals the teacher (diffusers leaves that
 * one layer at its random init; zero keeps the step-0 student identical to the teacher and is what we do here).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@consistent-avatar/core';
 * import { LCMScheduler, LcmDistillTrainer, UNet2DConditionModel, sample } from '@consistent-avatar/diffusion';
 * const teacher = UNet2DConditionModel.fromPretrained('runs/teacher');  // your trained ε-prediction UNet
 * const trainer = new LcmDistillTrainer(teacher, { timeCondProjDim: 32, numDdimTimesteps: 10, wMin: 1, wMax: 4, learningRate: 5e-4, seed: 0 });
 * trainer.train((rng) => myBatch(rng), 400, { onProgress: ({ step, loss }) => console.log(step, loss) }); // myBatch → { latents, encoderHiddenStates, negativeEncoderHiddenStates }
 * const x = sample({ unet: trainer.target, scheduler: new LCMScheduler({ original_inference_steps: 10 }), numInferenceSteps: 4,
 *   shape: [1, 8, 8, 3], encoderHiddenStates: text, guidanceScale: 3 });
 * trainer.dispose();
 * ```
 */
import { Adam, configField as f, Ema, loadCheckpoint, resolveConfig, Rng, saveCheckpoint, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import { UNet2DConditionModel } from '../models/unet-2d-condition.js';
import { guidanceScaleEmbedding } from '../pipelines/guidance-embedding.js';
import { DDPMScheduler } from '../schedulers/ddpm.js';
import { lcmBoundaryScalings } from '../schedulers/lcm.js';
import type { BaseSchedulerConfig, PredictionType, Scheduler } from '../schedulers/types.js';
import { ddimSolverGrid, ddimSolverStep, type DDIMSolverGrid } from './ddim-solver.js';

/** Distillation hyper-parameters (diffusers script flag names in brackets). JSON round-trips. */
export interface LcmDistillConfig {
  /** Size of the student's guidance embedding [unet_time_cond_proj_dim]. Default 256. */
  timeCondProjDim: number;
  /** N, the skipping-step solver grid [num_ddim_timesteps]. Default 50. */
  numDdimTimesteps: number;
  /** Guidance range for w ~ U[wMin, wMax] [w_min, w_max]. Default 5, 15. */
  wMin: number;
  wMax: number;
  /** EMA decay μ of the target network [ema_decay]. Default 0.95. */
  emaDecay: number;
  /** 'l2' or 'huber' [loss_type]. Default 'l2'. */
  lossType: 'l2' | 'huber';
  /** Pseudo-Huber c [huber_c]. Default 0.001. */
  huberC: number;
  /** Boundary-condition timestep scaling [timestep_scaling_factor]. Default 10. */
  timestepScaling: number;
  /** Adam learning rate [learning_rate]. Default 1e-6 (the SD recipe; toy models want ~1e-3). */
  learningRate: number;
  /** Global-norm gradient clipping [max_grad_norm]. Default 1. */
  maxGradNorm: number;
  /** Seed of every draw (timestep indices, noise, w). Default 0. */
  seed: number;
}

/**
 * Defaults of {@link LcmDistillConfig} (diffusers' script defaults).
 * @example
 * ```ts
 * const toy: LcmDistillConfig = { ...LCM_DISTILL_DEFAULTS, numDdimTimesteps: 10, wMin: 1, wMax: 3, learningRate: 5e-4 };
 * ```
 */
export const LCM_DISTILL_DEFAULTS: LcmDistillConfig = {
  timeCondProjDim: 256,
  numDdimTimesteps: 50,
  wMin: 5,
  wMax: 15,
  emaDecay: 0.95,
  lossType: 'l2',
  huberC: 0.001,
  timestepScaling: 10,
  learningRate: 1e-6,
  maxGradNorm: 1,
  seed: 0,
};

/** One training batch (tensors are read, not disposed). */
export interface LcmDistillBatch {
  /** Clean latents x0 `[B, H, W, C]` (already VAE-encoded and scaled; pixels with an IdentityAutoencoder). */
  latents: tf.Tensor4D;
  /** Text tokens `[B, L, D]`. */
  encoderHiddenStates: tf.Tensor;
  /** Unconditional tokens `[B, L', D]` for the teacher's CFG. */
  negativeEncoderHiddenStates: tf.Tensor;
}

/** What {@link LcmDistillTrainer.step} reports. */
export interface LcmDistillStepResult {
  step: number;
  loss: number;
  gradNorm: number;
}

const FN = 'LcmDistillTrainer';

/** How each hyper-parameter is checked (core's config validator); unknown fields are rejected. */
const LCM_DISTILL_FIELDS: ConfigSchema<LcmDistillConfig> = {
  timeCondProjDim: f.positiveInt(),
  numDdimTimesteps: f.positiveInt(),
  wMin: f.number({ min: 0 }),
  wMax: f.number({ min: 0 }),
  emaDecay: f.number({ min: 0, max: 1 }),
  lossType: f.oneOf(['l2', 'huber']),
  huberC: f.positiveNumber(),
  timestepScaling: f.positiveNumber(),
  learningRate: f.positiveNumber(),
  maxGradNorm: f.positiveNumber(),
  seed: f.integer(),
};

function resolveLcmDistillConfig(partial: Partial<LcmDistillConfig>): LcmDistillConfig {
  const c = resolveConfig<LcmDistillConfig>({ fn: FN, fields: LCM_DISTILL_FIELDS, defaults: LCM_DISTILL_DEFAULTS }, partial);
  if (c.wMax < c.wMin) throw new ValidationError(FN, 'config.wMax', `a number ≥ wMin (${c.wMin})`, c.wMax);
  return c;
}

/** x̂0 and ε̂ from a model output (diffusers `get_predicted_original_sample` / `get_predicted_noise`). */
function predictions(output: tf.Tensor, sample: tf.Tensor, alphas: number[], type: PredictionType): { x0: tf.Tensor; eps: tf.Tensor } {
  return tf.tidy(() => {
    const shape = [alphas.length, 1, 1, 1];
    const a = tf.tensor(alphas.map((v) => Math.sqrt(v)), shape, 'float32'); // √ᾱ_t  [B, 1, 1, 1]
    const s = tf.tensor(alphas.map((v) => Math.sqrt(1 - v)), shape, 'float32'); // √(1−ᾱ_t)
    if (type === 'epsilon') return { x0: tf.div(tf.sub(sample, tf.mul(s, output)), a), eps: output.clone() };
    if (type === 'sample') return { x0: output.clone(), eps: tf.div(tf.sub(sample, tf.mul(a, output)), s) };
    // v-prediction: x0 = √ᾱ·x − √(1−ᾱ)·v, ε = √ᾱ·v + √(1−ᾱ)·x.
    return { x0: tf.sub(tf.mul(a, sample), tf.mul(s, output)), eps: tf.add(tf.mul(a, output), tf.mul(s, sample)) };
  });
}

/**
 * Build the student: the teacher's config plus `time_cond_proj_dim`, the teacher's weights, `cond_proj` zero.
 *
 * @example
 * ```ts
 * import { UNet2DConditionModel, lcmStudentFromTeacher } from '@consistent-avatar/diffusion';
 * const teacher = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * const student = lcmStudentFromTeacher(teacher, 32); // student.config.time_cond_proj_dim === 32
 * ```
 */
export function lcmStudentFromTeacher(teacher: UNet2DConditionModel, timeCondProjDim: number): UNet2DConditionModel {
  if (!(teacher instanceof UNet2DConditionModel)) throw new ValidationError('lcmStudentFromTeacher', 'teacher', 'a UNet2DConditionModel', teacher);
  if (teacher.config.time_cond_proj_dim !== null) throw new ValidationError('lcmStudentFromTeacher', 'teacher', 'a UNet without time_cond_proj_dim (the teacher is not guidance-conditioned)', teacher.config.time_cond_proj_dim);
  const student = new UNet2DConditionModel({ ...teacher.config, time_cond_proj_dim: timeCondProjDim }, { init: 'zeros' });
  const report = student.loadStateDict(teacher.stateDict(), { strict: false });
  if (report.unexpected.length || report.mismatched.length || report.missing.some((k) => k !== 'time_embedding.cond_proj.weight')) {
    student.dispose();
    throw new ValidationError('lcmStudentFromTeacher', 'teacher', 'a plain UNet (no IP-Adapter layers attached)', [...report.unexpected, ...report.mismatched, ...report.missing].slice(0, 5).join(', '));
  }
  return student;
}

/**
 * @example
 * ```ts
 * const trainer = new LcmDistillTrainer(teacher, { timeCondProjDim: 256 });
 * for (const batch of batches) trainer.step(batch);           // { latents, encoderHiddenStates, negativeEncoderHiddenStates }
 * trainer.saveCheckpoint('runs/lcd/step-000100');
 * ```
 *
 * The distillation loop's state: teacher (frozen, not owned), student θ (trained), target θ⁻ (EMA of θ; sample with
 * this one, as the LCM authors do), Adam, EMA, RNG. Dispose when done.
 */
export class LcmDistillTrainer {
  readonly config: LcmDistillConfig;
  readonly teacher: UNet2DConditionModel;
  readonly student: UNet2DConditionModel;
  readonly target: UNet2DConditionModel;
  /** The teacher's noise schedule (ᾱ, prediction type). */
  readonly noiseScheduler: Scheduler;
  readonly grid: DDIMSolverGrid;
  private readonly optimizer: Adam;
  private readonly ema: Ema;
  private rng: Rng;
  private stepCount = 0;

  /**
   * @param teacher - the trained UNet (ε-, v- or x0-prediction as `noiseSchedulerConfig.prediction_type` says).
   * @param config - hyper-parameters (defaults: {@link LCM_DISTILL_DEFAULTS}).
   * @param noiseSchedulerConfig - the teacher's training noise schedule (DDPM config fields; default diffusers' LCM/SD
   *   scaled_linear 0.00085 → 0.012).
   */
  constructor(teacher: UNet2DConditionModel, config: Partial<LcmDistillConfig> = {}, noiseSchedulerConfig: Partial<BaseSchedulerConfig> = {}) {
    this.config = resolveLcmDistillConfig(config);
    if (!(teacher instanceof UNet2DConditionModel)) throw new ValidationError(FN, 'teacher', 'a UNet2DConditionModel', teacher);
    this.teacher = teacher;
    this.noiseScheduler = new DDPMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, ...noiseSchedulerConfig });
    this.grid = ddimSolverGrid(this.noiseScheduler.alphasCumprod, this.config.numDdimTimesteps);
    this.student = lcmStudentFromTeacher(teacher, this.config.timeCondProjDim);
    this.target = lcmStudentFromTeacher(teacher, this.config.timeCondProjDim);
    this.optimizer = new Adam(this.student, { lr: this.config.learningRate, maxGradNorm: this.config.maxGradNorm });
    this.ema = new Ema(this.student, this.config.emaDecay);
    this.rng = new Rng(this.config.seed);
  }

  /** Optimiser steps taken. */
  get steps(): number {
    return this.stepCount;
  }

  private checkBatch(batch: LcmDistillBatch): void {
    const fn = `${FN}.step`;
    if (typeof batch !== 'object' || batch === null) throw new ValidationError(fn, 'batch', '{ latents, encoderHiddenStates, negativeEncoderHiddenStates }', batch);
    const { latents, encoderHiddenStates: text, negativeEncoderHiddenStates: neg } = batch;
    const c = this.teacher.config;
    if (!(latents instanceof tf.Tensor) || latents.rank !== 4 || latents.shape[3] !== c.in_channels) throw new ValidationError(fn, 'batch.latents', `[B, H, W, ${c.in_channels}]`, latents);
    const B = latents.shape[0];
    for (const [name, t] of [['batch.encoderHiddenStates', text], ['batch.negativeEncoderHiddenStates', neg]] as const) {
      if (!(t instanceof tf.Tensor) || t.rank !== 3 || t.shape[0] !== B || t.shape[2] !== c.cross_attention_dim) throw new ValidationError(fn, name, `[${B}, L, ${c.cross_attention_dim}]`, t);
    }
  }

  /** One distillation step (Algorithm 1, steps 1–8 of the file comment). */
  step(batch: LcmDistillBatch): LcmDistillStepResult {
    this.checkBatch(batch);
    const c = this.config;
    const { latents: x0, encoderHiddenStates: text, negativeEncoderHiddenStates: neg } = batch;
    const B = x0.shape[0];
    const type = this.noiseScheduler.config.prediction_type;
    const ac = this.noiseScheduler.alphasCumprod;
    // 1. Grid indices and the two timesteps; 3. guidance weights.
    const index = Array.from({ length: B }, () => this.rng.int(c.numDdimTimesteps));
    const tStart = index.map((i) => this.grid.timesteps[i]!);
    const tPrev = tStart.map((t) => Math.max(t - this.grid.skip, 0));
    const w = Array.from(this.rng.uniform(B, c.wMin, c.wMax));
    const noise = this.rng.normal(x0.size);
    const scalings = (ts: number[]) => {
      const pairs = ts.map((t) => lcmBoundaryScalings(t, c.timestepScaling));
      return [tf.tensor4d(pairs.map((p) => p[0]), [B, 1, 1, 1]), tf.tensor4d(pairs.map((p) => p[1]), [B, 1, 1, 1])];
    };
    // 2, 5, 6. Noisy input, teacher solver step and the EMA target — no gradients.
    const fixed = tf.tidy(() => {
      const eps = tf.tensor(noise, x0.shape, 'float32');
      const xStart = this.noiseScheduler.addNoise(x0, eps, tStart) as tf.Tensor4D;
      const wEmb = guidanceScaleEmbedding(w, c.timeCondProjDim); // [B, timeCondProjDim]
      const alphasStart = tStart.map((t) => ac[t]!);
      const cond = predictions(this.teacher.forward(xStart, tStart, text), xStart, alphasStart, type);
      const uncond = predictions(this.teacher.forward(xStart, tStart, neg), xStart, alphasStart, type);
      const wT = tf.tensor4d(w, [B, 1, 1, 1]);
      const x0Guided = tf.add(cond.x0, tf.mul(wT, tf.sub(cond.x0, uncond.x0))); // Eq. 7 form: cond + w·(cond − uncond)
      const epsGuided = tf.add(cond.eps, tf.mul(wT, tf.sub(cond.eps, uncond.eps)));
      const xPrev = ddimSolverStep(this.grid, x0Guided, epsGuided, index) as tf.Tensor4D; // Ψ: t_start → t
      const targetOut = predictions(this.target.forward(xPrev, tPrev, text, { timestepCond: wEmb }), xPrev, tPrev.map((t) => ac[t]!), type);
      const [cSkip, cOut] = scalings(tPrev);
      const target = tf.add(tf.mul(cSkip!, xPrev), tf.mul(cOut!, targetOut.x0)); // f_θ⁻(x_t, w, c, t)
      return { xStart, wEmb, target };
    });
    // 4, 7, 8. Student prediction, loss, Adam.
    const [cSkipS, cOutS] = tf.tidy(() => scalings(tStart));
    const alphasStart = tStart.map((t) => ac[t]!);
    const result = this.optimizer.step(() => {
      const out = this.student.forward(fixed.xStart, tStart, text, { timestepCond: fixed.wEmb });
      const { x0: x0Student } = predictions(out, fixed.xStart, alphasStart, type);
      const pred = tf.add(tf.mul(cSkipS!, fixed.xStart), tf.mul(cOutS!, x0Student)); // f_θ(x_{t_start}, w, c, t_start)
      const diff = tf.sub(pred, fixed.target);
      if (c.lossType === 'l2') return tf.mean(tf.square(diff)) as tf.Scalar;
      return tf.mean(tf.sub(tf.sqrt(tf.add(tf.square(diff), c.huberC * c.huberC)), c.huberC)) as tf.Scalar; // pseudo-Huber
    });
    tf.dispose([fixed.xStart, fixed.wEmb, fixed.target, cSkipS!, cOutS!]);
    this.ema.update(this.student);
    this.ema.copyTo(this.target);
    this.stepCount++;
    return { step: this.stepCount, loss: result.loss, gradNorm: result.gradNorm };
  }

  /**
   * Run `steps` steps, drawing each batch from `nextBatch(rng)` (a fork of the trainer's seeded generator). Batch
   * tensors are disposed after each step.
   */
  train(nextBatch: (rng: Rng, step: number) => LcmDistillBatch, steps: number, options: { onProgress?: (r: LcmDistillStepResult) => void } = {}): LcmDistillStepResult[] {
    if (typeof nextBatch !== 'function') throw new ValidationError(`${FN}.train`, 'nextBatch', 'a function (rng, step) => batch', nextBatch);
    if (!Number.isInteger(steps) || steps < 0) throw new ValidationError(`${FN}.train`, 'steps', 'a non-negative integer', steps);
    const dataRng = this.rng.fork('data');
    const out: LcmDistillStepResult[] = [];
    for (let i = 0; i < steps; i++) {
      const batch = nextBatch(dataRng, this.stepCount);
      try {
        const r = this.step(batch);
        out.push(r);
        options.onProgress?.(r);
      } finally {
        tf.dispose([batch.latents, batch.encoderHiddenStates, batch.negativeEncoderHiddenStates]);
      }
    }
    return out;
  }

  /** Save student, target (EMA), Adam state, step and RNG state with core's `saveCheckpoint`. */
  saveCheckpoint(dir: string): string {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(this.student.stateDict())) tensors[`student.${k}`] = v;
    for (const [k, v] of Object.entries(this.ema.stateTensors())) tensors[`ema.${k}`] = v;
    return saveCheckpoint(dir, {
      config: { distill: this.config, unet: this.student.config },
      tensors,
      optimizerTensors: this.optimizer.stateTensors(),
      state: { step: this.stepCount, rng: this.rng.getState(), optimizer: this.optimizer.stateJson() },
    });
  }

  /** Restore what {@link saveCheckpoint} wrote (same teacher and config); training continues bit-for-bit. */
  loadCheckpoint(dir: string): void {
    const ckpt = loadCheckpoint(dir, { optimizer: true });
    try {
      const pick = (prefix: string) => Object.fromEntries(Object.entries(ckpt.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
      this.student.loadStateDict(pick('student.'));
      this.ema.loadState(pick('ema.'));
      this.ema.copyTo(this.target);
      const state = ckpt.state as { step: number; rng: ReturnType<Rng['getState']>; optimizer: { step: number } } | undefined;
      if (!state || !ckpt.optimizerTensors) throw new ValidationError(`${FN}.loadCheckpoint`, 'dir', 'a checkpoint written by LcmDistillTrainer.saveCheckpoint', dir);
      this.optimizer.loadState(ckpt.optimizerTensors, state.optimizer);
      this.rng = Rng.fromState(state.rng);
      this.stepCount = state.step;
    } finally {
      tf.dispose(Object.values(ckpt.tensors));
      if (ckpt.optimizerTensors) tf.dispose(Object.values(ckpt.optimizerTensors));
    }
  }

  /** Free student, target, optimiser and EMA (not the teacher). */
  dispose(): void {
    this.student.dispose();
    this.target.dispose();
    this.optimizer.dispose();
    this.ema.dispose();
  }
}
