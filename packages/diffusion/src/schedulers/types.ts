/**
 * The `Scheduler` interface shared by every noise scheduler (DDPM, DDIM, LCM) and the config types they read from
 * diffusers' `scheduler_config.json`.
 *
 * Conventions:
 * - Samples are tfjs float32 tensors of any shape whose **first axis is the batch** (`[B, H, W, C]` latents in this
 *   library). Every tensor a scheduler returns is new and belongs to the caller (dispose it).
 * - Timesteps are integers in `[0, num_train_timesteps)`, ordered from noisy to clean (descending).
 * - Config objects use diffusers' field names (`num_train_timesteps`, `beta_schedule`, …) so that
 *   `toJSON()` / {@link schedulerFromConfig} round-trip with a diffusers `scheduler_config.json`.
 *
 * @example
 * ```ts
 * import { LCMScheduler, type Scheduler } from '@consistent-avatar/diffusion';
 * const scheduler: Scheduler = new LCMScheduler();
 * scheduler.setTimesteps(4);
 * console.log(scheduler.timesteps); // [999, 759, 499, 259]
 * ```
 *
 * @packageDocumentation
 */
import type { FiniteOptions, Rng, tf } from '@consistent-avatar/core';

/** How betas are laid out over the training timesteps (diffusers `beta_schedule`). */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/** What the denoising network predicts (diffusers `prediction_type`). */
export type PredictionType = 'epsilon' | 'sample' | 'v_prediction';

/** How inference timesteps are spread over the training range (Lin et al. 2024, Table 2; diffusers `timestep_spacing`). */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** Registered scheduler class names, as in diffusers' `_class_name`. */
export type SchedulerClassName = 'DDPMScheduler' | 'DDIMScheduler' | 'LCMScheduler';

/** Fields every scheduler here reads: the training noise schedule and the x̂0 post-processing. */
export interface BaseSchedulerConfig {
  /** Number of training diffusion steps T. */
  num_train_timesteps: number;
  /** First beta (t = 0). */
  beta_start: number;
  /** Last beta (t = T − 1). */
  beta_end: number;
  beta_schedule: BetaSchedule;
  /** Explicit betas (length T) overriding `beta_schedule`, or null. */
  trained_betas: number[] | null;
  /** Rescale betas to zero terminal SNR (Lin et al. 2024, Algorithm 1). */
  rescale_betas_zero_snr: boolean;
  prediction_type: PredictionType;
  /** Clip the predicted x̂0 to ±`clip_sample_range` (ignored when `thresholding`). */
  clip_sample: boolean;
  clip_sample_range: number;
  /** Dynamic thresholding of x̂0 (Saharia et al. 2022, Imagen). */
  thresholding: boolean;
  /** Quantile of |x̂0| used as the threshold s. */
  dynamic_thresholding_ratio: number;
  /** Upper bound for s. */
  sample_max_value: number;
  timestep_spacing: TimestepSpacing;
  /** Added to "leading" timesteps (SD uses 1). */
  steps_offset: number;
}

/** Any scheduler config (the union of the three classes' fields). */
export type SchedulerConfig = BaseSchedulerConfig & Record<string, unknown>;

/** A diffusers `scheduler_config.json` object: `_class_name` plus the config fields. */
export interface SchedulerConfigJson {
  _class_name: SchedulerClassName;
  [field: string]: unknown;
}

/** Options of {@link Scheduler.setTimesteps}. */
export interface SetTimestepsOptions {
  /**
   * img2img strength in (0, 1]: keep only the last `⌊n·strength⌋` steps (the diffusers pipelines' `get_timesteps`).
   * The LCM scheduler applies it to its skipping-step grid instead, as diffusers' `LCMScheduler.set_timesteps` does.
   * Default 1.
   */
  strength?: number;
  /** Custom descending timesteps (DDPM and LCM); pass `null` as `numInferenceSteps` with them. */
  timesteps?: readonly number[];
  /** LCM only: size of the distillation grid (default: the config's `original_inference_steps`). */
  originalInferenceSteps?: number;
}

/** Options of {@link Scheduler.step}. */
export interface StepOptions {
  /** Accept NaN / ±Infinity in `sample` and `modelOutput` (rejected by default: the library's non-finite policy). */
  allowNonFinite?: boolean;
  /**
   * The injected noise z ~ N(0, I) for stochastic steps (LCM between steps, DDPM at t > 0, DDIM with η > 0), with the
   * sample's shape. Takes precedence over `rng`.
   */
  noise?: tf.Tensor;
  /** Seeded generator the noise is drawn from when `noise` is not given. */
  rng?: Rng;
  /** DDIM only: η ≥ 0 (0 = deterministic DDIM, 1 = DDPM-like variance). Default 0. */
  eta?: number;
  /** DDIM only: recompute ε from the clipped x̂0 (diffusers `use_clipped_model_output`). Default false. */
  useClippedModelOutput?: boolean;
}

/** What {@link Scheduler.step} returns (both tensors are new; dispose them). */
export interface StepResult {
  /** x_{t−1}: the sample to feed to the next step. */
  prevSample: tf.Tensor;
  /**
   * The clean estimate at this step: x̂0 for DDPM / DDIM (`pred_original_sample`), the boundary-conditioned
   * `denoised = c_out·x̂0 + c_skip·x_t` for LCM (what the LCM pipeline decodes).
   */
  denoised: tf.Tensor;
}

/**
 * A noise scheduler: the training forward process (`addNoise`, `getVelocity`) and one reverse step (`step`).
 *
 * @example
 * ```ts
 * import { tf, Rng } from '@consistent-avatar/core';
 * import { DDIMScheduler } from '@consistent-avatar/diffusion';
 * const scheduler = new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
 * scheduler.setTimesteps(10);
 * let x = tf.tensor(new Rng(0).normal(64), [1, 4, 4, 4]);
 * for (const t of scheduler.timesteps) {
 *   const eps = tf.zerosLike(x); // your UNet here
 *   const { prevSample, denoised } = scheduler.step(eps, t, x);
 *   x.dispose(); eps.dispose(); denoised.dispose();
 *   x = prevSample;
 * }
 * ```
 */
export interface Scheduler {
  /** diffusers class name (`'LCMScheduler'`, …). */
  readonly className: SchedulerClassName;
  /** The full config (diffusers field names, defaults filled in). */
  readonly config: Readonly<SchedulerConfig>;
  /** Inference timesteps set by {@link setTimesteps} (descending integers); all T training steps before it. */
  readonly timesteps: readonly number[];
  /** Number of inference steps the schedule was built for, or null before {@link setTimesteps}. */
  readonly numInferenceSteps: number | null;
  /** ᾱ_t = ∏(1 − β_s), float32 values, length T. */
  readonly alphasCumprod: Float32Array;
  /** Standard deviation of the initial noise x_T (1 for these schedulers). */
  readonly initNoiseSigma: number;
  /** Model evaluations per step (1 for these schedulers). */
  readonly order: number;
  /** Build the inference schedule. */
  setTimesteps(numInferenceSteps: number | null, options?: SetTimestepsOptions): void;
  /** Start stepping at this index of {@link timesteps} (img2img / refiner hand-off). */
  setBeginIndex(beginIndex: number): void;
  /** One reverse step from x_t to x_{t−1}. `modelOutput` and `sample` have the same shape. */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options?: StepOptions): StepResult;
  /**
   * Forward process q(x_t | x_0): √ᾱ_t·x0 + √(1−ᾱ_t)·noise; `timestep` is one integer or one per batch item. Non-finite
   * tensors are rejected unless `options.allowNonFinite`.
   */
  addNoise(originalSamples: tf.Tensor, noise: tf.Tensor, timestep: number | readonly number[], options?: FiniteOptions): tf.Tensor;
  /** v-prediction target: √ᾱ_t·noise − √(1−ᾱ_t)·x0 (non-finite tensors rejected unless `options.allowNonFinite`). */
  getVelocity(sample: tf.Tensor, noise: tf.Tensor, timestep: number | readonly number[], options?: FiniteOptions): tf.Tensor;
  /** Input scaling before the model (identity here; returns a new handle to the same data). */
  scaleModelInput(sample: tf.Tensor, timestep?: number): tf.Tensor;
  /** diffusers `scheduler_config.json` content. */
  toJSON(): SchedulerConfigJson;
}
