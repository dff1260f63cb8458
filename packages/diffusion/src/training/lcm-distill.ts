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
 * The student is the teacher's architecture with `time_cond_proj_dim` added, initialised from the teacher's weights
 * (attached IP-Adapter processors included); its `time_embedding.cond_proj` starts at zero, so the untrained student
 * equals the teacher (diffusers leaves that one layer at its random init; zero keeps the step-0 student identical to
 * the teacher and is what we do here). With w_min = w_max = 0 there is no guidance and step 5 makes one teacher call.
 *
 * The teacher may be more than a bare UNet (a ControlNet on a control image, decoupled-attention tokens, an input
 * concatenation …): every network call goes through a model-call function `(unet, x, t, conditions, timestepCond)`
 * given at construction, which runs `unet` (teacher, student or target — the same layout) inside the rest of the
 * frozen model; batches then carry `{ latents, conditions, negativeConditions }` with whatever `conditions` that
 * function reads. The default call is `unet.forward(x, t, conditions, { timestepCond })` (conditions = text tokens or
 * `{ text, ipTokens }`), and the text form `{ latents, encoderHiddenStates, negativeEncoderHiddenStates }` still works.
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
 * // A teacher that is a UNet inside a bigger model: say how to call it, and batch its conditions.
 * const fcsd = new LcmDistillTrainer(backbone, { timeCondProjDim: 32, wMin: 0, wMax: 0 }, schedule, {
 *   modelCall: (unet, x, t, conditions, timestepCond) => model.denoise(x, t, conditions, { unet, timestepCond }),
 * });
 * fcsd.step({ latents: x0, conditions: model.conditions(inputs, proxyRgb) });
 * ```
 */
import { Adam, configField as f, Ema, loadCheckpoint, resolveConfig, Rng, saveCheckpoint, tf, ValidationError, type CheckpointData, type ConfigSchema, type LoadedCheckpoint } from '@consistent-avatar/core';
import type { EncoderHiddenStates } from '../models/attention-processors.js';
import { cloneUNet } from '../models/clone-unet.js';
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
  /** Global-norm gradient clipping [max_grad_norm]; 0 turns clipping off. Default 1. */
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

/**
 * One training batch in the text form, for the default model call (tensors are read, not disposed).
 * @example
 * ```ts
 * const batch: LcmDistillBatch = { latents: x0, encoderHiddenStates: text, negativeEncoderHiddenStates: tf.zerosLike(text) };
 * ```
 */
export interface LcmDistillBatch {
  /** Clean latents x0 `[B, H, W, C]` (already VAE-encoded and scaled; pixels with an IdentityAutoencoder). */
  latents: tf.Tensor4D;
  /** Text tokens `[B, L, D]`. */
  encoderHiddenStates: tf.Tensor;
  /** Unconditional tokens `[B, L', D]` for the teacher's CFG. */
  negativeEncoderHiddenStates: tf.Tensor;
}

/**
 * One training batch in the general form (tensors are read, not disposed; {@link LcmDistillTrainer.train} disposes
 * every tensor it finds in them, nested in arrays and plain objects, after the step).
 * @example
 * ```ts
 * const batch: LcmDistillConditionBatch<EncoderHiddenStates> = { latents: x0, conditions: { text, ipTokens: [tokens] }, negativeConditions: { text: empty, ipTokens: [zeros] } };
 * ```
 */
export interface LcmDistillConditionBatch<C> {
  /** Clean latents x0 `[B, H, W, C]`: what the model call's `x` is shaped like. */
  latents: tf.Tensor4D;
  /** What the model call receives as `conditions` (tensors in it are batched like `latents`). */
  conditions: C;
  /** The unconditional variant for the teacher's CFG; needed only when `wMax > 0`. */
  negativeConditions?: C;
}

/**
 * How the trainer runs a network: the model output (ε̂, x̂0 or v̂ per the noise schedule's prediction type) for `x` at
 * per-sample timesteps `t`, with `unet` — the teacher (`timestepCond` null), the student or the EMA target (the
 * guidance embedding `[B, timeCondProjDim]`) — in the UNet's place. Runs inside the gradient tape for the student:
 * tensor ops only, no `dataSync`.
 * @example
 * ```ts
 * const modelCall: LcmModelCall<EncoderHiddenStates> = (unet, x, t, text, timestepCond) => unet.forward(x, t, text, { timestepCond }); // the default
 * ```
 */
export type LcmModelCall<C> = (unet: UNet2DConditionModel, x: tf.Tensor4D, t: number[], conditions: C, timestepCond: tf.Tensor | null) => tf.Tensor4D;

/**
 * Construction options of {@link LcmDistillTrainer} that are code, not JSON config.
 * @example
 * ```ts
 * const options: LcmDistillTrainerOptions<FcsdConditions> = { modelCall: (unet, x, t, c, w) => model.denoise(x, t, c, { unet, timestepCond: w }) };
 * ```
 */
export interface LcmDistillTrainerOptions<C> {
  /** The model call (default: `unet.forward(x, t, conditions, { timestepCond })`). */
  modelCall?: LcmModelCall<C>;
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
  maxGradNorm: f.number({ min: 0 }),
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
 * Build the student: the teacher's config plus `time_cond_proj_dim`, the teacher's attention processors (plain and
 * IP-Adapter, with their scales and weights; see `cloneUNet`), the teacher's weights, `cond_proj` zero.
 *
 * @example
 * ```ts
 * import { UNet2DConditionModel, attachIPAdapter, lcmStudentFromTeacher } from '@consistent-avatar/diffusion';
 * const teacher = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * attachIPAdapter(teacher, { numTokens: 4, seed: 1 });                 // optional
 * const student = lcmStudentFromTeacher(teacher, 32); // student.config.time_cond_proj_dim === 32, IP processors copied
 * ```
 */
export function lcmStudentFromTeacher(teacher: UNet2DConditionModel, timeCondProjDim: number): UNet2DConditionModel {
  if (!(teacher instanceof UNet2DConditionModel)) throw new ValidationError('lcmStudentFromTeacher', 'teacher', 'a UNet2DConditionModel', teacher);
  if (teacher.config.time_cond_proj_dim !== null) throw new ValidationError('lcmStudentFromTeacher', 'teacher', 'a UNet without time_cond_proj_dim (the teacher is not guidance-conditioned)', teacher.config.time_cond_proj_dim);
  if (!Number.isInteger(timeCondProjDim) || timeCondProjDim <= 0) throw new ValidationError('lcmStudentFromTeacher', 'timeCondProjDim', 'a positive integer', timeCondProjDim);
  return cloneUNet(teacher, { time_cond_proj_dim: timeCondProjDim }); // cond_proj is new to the copy: zero
}

/** Every tensor in a condition value (a tensor, or arrays / plain objects of them, a few levels deep). */
function tensorsIn(value: unknown, out: tf.Tensor[] = [], depth = 0): tf.Tensor[] {
  if (value instanceof tf.Tensor) out.push(value);
  else if (depth < 4 && Array.isArray(value)) for (const v of value) tensorsIn(v, out, depth + 1);
  else if (depth < 4 && typeof value === 'object' && value !== null) for (const v of Object.values(value)) tensorsIn(v, out, depth + 1);
  return out;
}

/** True for the text form of a batch. */
function isTextBatch(batch: object): batch is LcmDistillBatch {
  return 'encoderHiddenStates' in batch;
}

/** The default model call: the UNet alone, conditions as its encoder hidden states. */
function unetCall<C>(unet: UNet2DConditionModel, x: tf.Tensor4D, t: number[], conditions: C, timestepCond: tf.Tensor | null): tf.Tensor4D {
  return unet.forward(x, t, conditions as EncoderHiddenStates, { timestepCond });
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
 * this one, as the LCM authors do), Adam, EMA, RNG. Dispose when done. `C` is what batches carry as `conditions`
 * (the UNet's encoder hidden states by default).
 */
export class LcmDistillTrainer<C = EncoderHiddenStates> {
  readonly config: LcmDistillConfig;
  readonly teacher: UNet2DConditionModel;
  readonly student: UNet2DConditionModel;
  readonly target: UNet2DConditionModel;
  /** The teacher's noise schedule (ᾱ, prediction type). */
  readonly noiseScheduler: Scheduler;
  readonly grid: DDIMSolverGrid;
  /** How every network runs (see {@link LcmModelCall}). */
  readonly modelCall: LcmModelCall<C>;
  private readonly optimizer: Adam;
  private readonly ema: Ema;
  private rng: Rng;
  private stepCount = 0;

  /**
   * @param teacher - the trained UNet (ε-, v- or x0-prediction as `noiseSchedulerConfig.prediction_type` says), with
   *   any IP-Adapter processors attached; the student copies them.
   * @param config - hyper-parameters (defaults: {@link LCM_DISTILL_DEFAULTS}).
   * @param noiseSchedulerConfig - the teacher's training noise schedule (DDPM config fields; default diffusers' LCM/SD
   *   scaled_linear 0.00085 → 0.012).
   * @param options - the model call, when the teacher is more than its UNet.
   */
  constructor(teacher: UNet2DConditionModel, config: Partial<LcmDistillConfig> = {}, noiseSchedulerConfig: Partial<BaseSchedulerConfig> = {}, options: LcmDistillTrainerOptions<C> = {}) {
    this.config = resolveLcmDistillConfig(config);
    if (!(teacher instanceof UNet2DConditionModel)) throw new ValidationError(FN, 'teacher', 'a UNet2DConditionModel', teacher);
    if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', '{ modelCall? }', options);
    if (options.modelCall !== undefined && typeof options.modelCall !== 'function') throw new ValidationError(FN, 'options.modelCall', 'a function (unet, x, t, conditions, timestepCond) => output', options.modelCall);
    this.teacher = teacher;
    this.modelCall = options.modelCall ?? unetCall;
    this.noiseScheduler = new DDPMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, ...noiseSchedulerConfig });
    this.grid = ddimSolverGrid(this.noiseScheduler.alphasCumprod, this.config.numDdimTimesteps);
    this.student = lcmStudentFromTeacher(teacher, this.config.timeCondProjDim);
    this.target = lcmStudentFromTeacher(teacher, this.config.timeCondProjDim);
    this.optimizer = new Adam(this.student, { lr: this.config.learningRate, maxGradNorm: this.config.maxGradNorm > 0 ? this.config.maxGradNorm : undefined });
    this.ema = new Ema(this.student, this.config.emaDecay);
    this.rng = new Rng(this.config.seed);
  }

  /** Optimiser steps taken. */
  get steps(): number {
    return this.stepCount;
  }

  /** True when the teacher runs classifier-free guidance (w can be above 0). */
  private get guided(): boolean {
    return this.config.wMax > 0;
  }

  /** Validate a batch of either form and return its parts. */
  private checkBatch(batch: LcmDistillBatch | LcmDistillConditionBatch<C>): { x0: tf.Tensor4D; conditions: C; negative: C | undefined } {
    const fn = `${FN}.step`;
    if (typeof batch !== 'object' || batch === null) throw new ValidationError(fn, 'batch', '{ latents, conditions, negativeConditions? } or { latents, encoderHiddenStates, negativeEncoderHiddenStates }', batch);
    const latents = batch.latents;
    if (isTextBatch(batch)) {
      // The text form: the UNet's own inputs, checked against its config.
      const { encoderHiddenStates: text, negativeEncoderHiddenStates: neg } = batch;
      const c = this.teacher.config;
      if (!(latents instanceof tf.Tensor) || latents.rank !== 4 || latents.shape[3] !== c.in_channels) throw new ValidationError(fn, 'batch.latents', `[B, H, W, ${c.in_channels}]`, latents);
      const B = latents.shape[0];
      for (const [name, t] of [['batch.encoderHiddenStates', text], ['batch.negativeEncoderHiddenStates', neg]] as const) {
        if (!(t instanceof tf.Tensor) || t.rank !== 3 || t.shape[0] !== B || t.shape[2] !== c.cross_attention_dim) throw new ValidationError(fn, name, `[${B}, L, ${c.cross_attention_dim}]`, t);
      }
      return { x0: latents, conditions: text as unknown as C, negative: neg as unknown as C };
    }
    // The general form: the model call checks its own inputs; here only the batch size.
    if (!(latents instanceof tf.Tensor) || latents.rank !== 4) throw new ValidationError(fn, 'batch.latents', '[B, H, W, C]', latents);
    const B = latents.shape[0];
    if (!('conditions' in batch) || batch.conditions === undefined) throw new ValidationError(fn, 'batch.conditions', 'the conditions of the model call', undefined);
    if (this.guided && batch.negativeConditions === undefined) throw new ValidationError(fn, 'batch.negativeConditions', `the unconditional conditions (guidance: wMax = ${this.config.wMax} > 0)`, undefined);
    for (const [name, value] of [['batch.conditions', batch.conditions], ['batch.negativeConditions', batch.negativeConditions]] as const) {
      for (const t of tensorsIn(value)) if (t.shape[0] !== B) throw new ValidationError(fn, name, `tensors batched like latents ([${B}, …])`, t);
    }
    return { x0: latents, conditions: batch.conditions, negative: batch.negativeConditions };
  }

  /** Run the model call and check it returned the latents' shape. */
  private call(unet: UNet2DConditionModel, x: tf.Tensor4D, t: number[], conditions: C, timestepCond: tf.Tensor | null): tf.Tensor4D {
    const out = this.modelCall(unet, x, t, conditions, timestepCond);
    if (!(out instanceof tf.Tensor) || out.shape.join() !== x.shape.join()) throw new ValidationError(`${FN}.step`, 'modelCall', `a function returning the model output [${x.shape.join(', ')}]`, out);
    return out;
  }

  /** One distillation step (Algorithm 1, steps 1–8 of the file comment). */
  step(batch: LcmDistillBatch | LcmDistillConditionBatch<C>): LcmDistillStepResult {
    const { x0, conditions, negative } = this.checkBatch(batch);
    const c = this.config;
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
      // Per step, no extra device read: a non-finite x0 makes the loss non-finite, and the optimiser stops there.
      const xStart = this.noiseScheduler.addNoise(x0, eps, tStart, { allowNonFinite: true }) as tf.Tensor4D;
      const wEmb = guidanceScaleEmbedding(w, c.timeCondProjDim); // [B, timeCondProjDim]
      const alphasStart = tStart.map((t) => ac[t]!);
      const cond = predictions(this.call(this.teacher, xStart, tStart, conditions, null), xStart, alphasStart, type);
      let x0Guided = cond.x0, epsGuided = cond.eps;
      if (this.guided) {
        const uncond = predictions(this.call(this.teacher, xStart, tStart, negative!, null), xStart, alphasStart, type);
        const wT = tf.tensor4d(w, [B, 1, 1, 1]);
        x0Guided = tf.add(cond.x0, tf.mul(wT, tf.sub(cond.x0, uncond.x0))); // Eq. 7 form: cond + w·(cond − uncond)
        epsGuided = tf.add(cond.eps, tf.mul(wT, tf.sub(cond.eps, uncond.eps)));
      }
      const xPrev = ddimSolverStep(this.grid, x0Guided, epsGuided, index) as tf.Tensor4D; // Ψ: t_start → t
      const targetOut = predictions(this.call(this.target, xPrev, tPrev, conditions, wEmb), xPrev, tPrev.map((t) => ac[t]!), type);
      const [cSkip, cOut] = scalings(tPrev);
      const target = tf.add(tf.mul(cSkip!, xPrev), tf.mul(cOut!, targetOut.x0)); // f_θ⁻(x_t, w, c, t)
      return { xStart, wEmb, target };
    });
    // 4, 7, 8. Student prediction, loss, Adam.
    const [cSkipS, cOutS] = tf.tidy(() => scalings(tStart));
    const alphasStart = tStart.map((t) => ac[t]!);
    let result: { loss: number; gradNorm: number };
    try {
      result = this.optimizer.step(() => {
        const out = this.call(this.student, fixed.xStart, tStart, conditions, fixed.wEmb);
        const { x0: x0Student } = predictions(out, fixed.xStart, alphasStart, type);
        const pred = tf.add(tf.mul(cSkipS!, fixed.xStart), tf.mul(cOutS!, x0Student)); // f_θ(x_{t_start}, w, c, t_start)
        const diff = tf.sub(pred, fixed.target);
        if (c.lossType === 'l2') return tf.mean(tf.square(diff)) as tf.Scalar;
        return tf.mean(tf.sub(tf.sqrt(tf.add(tf.square(diff), c.huberC * c.huberC)), c.huberC)) as tf.Scalar; // pseudo-Huber
      });
    } finally {
      tf.dispose([fixed.xStart, fixed.wEmb, fixed.target, cSkipS!, cOutS!]);
    }
    this.ema.update(this.student);
    this.ema.copyTo(this.target);
    this.stepCount++;
    return { step: this.stepCount, loss: result.loss, gradNorm: result.gradNorm };
  }

  /**
   * Run `steps` steps, drawing each batch from `nextBatch(rng)` (a fork of the trainer's seeded generator). Every
   * tensor of a batch (latents and those found in its conditions) is disposed after its step.
   */
  train(nextBatch: (rng: Rng, step: number) => LcmDistillBatch | LcmDistillConditionBatch<C>, steps: number, options: { onProgress?: (r: LcmDistillStepResult) => void } = {}): LcmDistillStepResult[] {
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
        tf.dispose([...new Set(tensorsIn(batch))]);
      }
    }
    return out;
  }

  /**
   * What {@link LcmDistillTrainer.saveCheckpoint} writes, for a `CheckpointManager` (`manager.save(step, data)`):
   * student, target (EMA), Adam state, step and RNG state, and `state` (any JSON of the caller, e.g. its data
   * loader's RNG) under `state.extra`. The tensors are live: save them before the next step.
   * @example
   * ```ts
   * manager.save(trainer.steps, trainer.checkpointData({ loop: loop.toState() }));
   * ```
   */
  checkpointData(state: Record<string, unknown> = {}): CheckpointData {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new ValidationError(`${FN}.checkpointData`, 'state', 'a JSON object', state);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(this.student.stateDict())) tensors[`student.${k}`] = v;
    for (const [k, v] of Object.entries(this.ema.stateTensors())) tensors[`ema.${k}`] = v;
    return {
      config: { distill: this.config, unet: this.student.config },
      tensors,
      optimizerTensors: this.optimizer.stateTensors(),
      state: { step: this.stepCount, rng: this.rng.getState(), optimizer: this.optimizer.stateJson(), extra: state },
    };
  }

  /**
   * Restore a loaded checkpoint of {@link LcmDistillTrainer.checkpointData} (same teacher and config; the caller
   * disposes the loaded tensors). Training continues bit-for-bit.
   * @returns the caller's `state` given at save time.
   * @example
   * ```ts
   * const last = manager.loadLatest();
   * if (last) try { loop.restore(trainer.restoreCheckpoint(last).loop as Record<string, unknown>); } finally { tf.dispose(Object.values(last.tensors)); }
   * ```
   */
  restoreCheckpoint(ckpt: LoadedCheckpoint): Record<string, unknown> {
    const fn = `${FN}.restoreCheckpoint`;
    const state = ckpt?.state as { step: number; rng: ReturnType<Rng['getState']>; optimizer: { step: number }; extra?: Record<string, unknown> } | undefined;
    if (!state || !ckpt.optimizerTensors || typeof state.step !== 'number') throw new ValidationError(fn, 'ckpt', 'a checkpoint written by LcmDistillTrainer (saveCheckpoint / checkpointData)', ckpt?.dir);
    const config = { distill: this.config, unet: this.student.config };
    if (JSON.stringify(ckpt.config) !== JSON.stringify(config)) throw new ValidationError(fn, 'ckpt.config', `this trainer's config (checkpoint ${ckpt.dir})`, ckpt.config);
    const pick = (prefix: string) => Object.fromEntries(Object.entries(ckpt.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    this.student.loadStateDict(pick('student.'), { source: ckpt.dir });
    this.ema.loadState(pick('ema.'));
    this.ema.copyTo(this.target);
    this.optimizer.loadState(ckpt.optimizerTensors, state.optimizer);
    this.rng = Rng.fromState(state.rng);
    this.stepCount = state.step;
    return state.extra ?? {};
  }

  /**
   * Save student, target (EMA), Adam state, step, RNG state and the caller's `state` with core's `saveCheckpoint`.
   * @example
   * ```ts
   * trainer.saveCheckpoint('runs/lcd/step-000100', { epoch: 3 });
   * ```
   */
  saveCheckpoint(dir: string, state: Record<string, unknown> = {}): string {
    return saveCheckpoint(dir, this.checkpointData(state));
  }

  /**
   * Restore what {@link saveCheckpoint} wrote (same teacher and config); training continues bit-for-bit.
   * @returns the caller's `state` given to `saveCheckpoint`.
   * @example
   * ```ts
   * const { epoch } = trainer.loadCheckpoint('runs/lcd/step-000100');
   * ```
   */
  loadCheckpoint(dir: string): Record<string, unknown> {
    const ckpt = loadCheckpoint(dir, { optimizer: true });
    try {
      return this.restoreCheckpoint(ckpt);
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
