/**
 * DDIM scheduler (Song et al. 2021, "Denoising Diffusion Implicit Models"), as diffusers' `DDIMScheduler`:
 * x_{t'} = √ᾱ_{t'}·x̂0 + √(1 − ᾱ_{t'} − σ_t²)·ε̂ + σ_t·z (Eq. 12) with
 * σ_t = η·√((1 − ᾱ_{t'})/(1 − ᾱ_t)·(1 − ᾱ_t/ᾱ_{t'})) (Eq. 16); η = 0 is deterministic.
 *
 * The previous timestep is t' = t − ⌊T/n⌋ for every spacing (diffusers does the same, also for `trailing` /
 * `linspace`), and ᾱ_{t'} for t' < 0 is `final_alpha_cumprod` = 1 (`set_alpha_to_one`) or ᾱ_0.
 *
 * @example
 * ```ts
 * import { tf, Rng } from '@consistent-avatar/core';
 * import { DDIMScheduler } from '@consistent-avatar/diffusion';
 * // Stable Diffusion's schedule: scaled_linear 0.00085 → 0.012, steps_offset 1, set_alpha_to_one false.
 * const scheduler = new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012,
 *   clip_sample: false, set_alpha_to_one: false, steps_offset: 1 });
 * scheduler.setTimesteps(50);             // [981, 961, …, 1]
 * let x = tf.tensor(new Rng(0).normal(256), [1, 8, 8, 4]);
 * const eps = tf.zerosLike(x);            // the UNet's ε̂
 * const { prevSample } = scheduler.step(eps, 981, x, { eta: 0 });
 * ```
 */
import { configField as f, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import { SchedulerBase, f32, sqrt32 } from './scheduler-base.js';
import { BASE_CONFIG_FIELDS, resolveSchedulerConfig } from './scheduler-config.js';
import { spacedTimesteps } from './timestep-spacing.js';
import { strengthStartIndex } from './handoff.js';
import type { BaseSchedulerConfig, SetTimestepsOptions, StepOptions, StepResult } from './types.js';

/** `DDIMScheduler` config (diffusers field names). */
export interface DDIMSchedulerConfig extends BaseSchedulerConfig {
  /** ᾱ before t = 0 is 1 (true) or ᾱ_0 (false; SD uses false). */
  set_alpha_to_one: boolean;
}

/** diffusers' `DDIMScheduler.__init__` defaults. */
export const DDIM_DEFAULTS: DDIMSchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  rescale_betas_zero_snr: false,
};

const DDIM_FIELDS: ConfigSchema<DDIMSchedulerConfig> = {
  ...BASE_CONFIG_FIELDS,
  set_alpha_to_one: f.boolean(),
};

/** DDIM: deterministic (η = 0) or stochastic (η > 0) non-Markovian sampling. */
export class DDIMScheduler extends SchedulerBase<DDIMSchedulerConfig> {
  /** ᾱ used when the previous timestep is below 0. */
  readonly finalAlphaCumprod: number;

  /** @param config - diffusers `DDIMScheduler` fields; missing ones take {@link DDIM_DEFAULTS}. */
  constructor(config: Partial<DDIMSchedulerConfig> = {}) {
    super('DDIMScheduler', resolveSchedulerConfig('DDIMScheduler', DDIM_DEFAULTS, DDIM_FIELDS, config));
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
  }

  /** Build a scheduler from a `scheduler_config.json` object (unknown fields ignored). */
  static fromConfig(json: Record<string, unknown>): DDIMScheduler {
    return new DDIMScheduler(json as Partial<DDIMSchedulerConfig>);
  }

  /**
   * Set the inference schedule: `n` steps spaced by `timestep_spacing` (+ `steps_offset` for `leading`).
   * `strength` < 1 keeps the last ⌊n·strength⌋ steps (img2img); t' still uses ⌊T/n⌋. Custom timesteps are not
   * supported (as in diffusers' DDIM).
   */
  setTimesteps(numInferenceSteps: number | null, options: SetTimestepsOptions = {}): void {
    const fn = 'DDIMScheduler.setTimesteps';
    if (options.timesteps !== undefined) {
      throw new ValidationError(fn, 'options.timesteps', 'undefined (DDIM builds its own spacing; use DDPM or LCM for custom timesteps)', options.timesteps);
    }
    const T = this.config.num_train_timesteps;
    const schedule = spacedTimesteps(this.config.timestep_spacing, T, numInferenceSteps as number, this.config.steps_offset, fn);
    if (schedule[0]! >= T) {
      throw new ValidationError(fn, 'config.steps_offset', `an offset keeping the first timestep below ${T}`, this.config.steps_offset);
    }
    this.inferenceSteps = schedule.length;
    const start = options.strength === undefined ? 0 : strengthStartIndex(schedule.length, options.strength, fn);
    this.schedule = schedule.slice(start);
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /**
   * One DDIM step x_t → x_{t'}.
   *
   * @param modelOutput - ε̂ / x̂0 / v̂ (`prediction_type`), the sample's shape.
   * @param timestep - current t.
   * @param sample - x_t, any shape `[B, …]`.
   * @param options - `eta` (default 0); `noise` or `rng` when η > 0; `useClippedModelOutput`.
   * @returns `prevSample` = x_{t'}, `denoised` = x̂0 (after clipping / thresholding).
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: StepOptions = {}): StepResult {
    const fn = 'DDIMScheduler.step';
    this.checkStepInputs(fn, modelOutput, timestep, sample, options);
    const numInferenceSteps = this.requireSchedule(fn);
    const eta = options.eta ?? 0;
    if (typeof eta !== 'number' || !(eta >= 0) || !Number.isFinite(eta)) {
      throw new ValidationError(fn, 'options.eta', 'a finite number ≥ 0', eta);
    }
    if (eta > 0) this.requireNoiseSource(fn, options);

    // 1. t' = t − ⌊T/n⌋.
    const prevT = timestep - Math.floor(this.config.num_train_timesteps / numInferenceSteps);
    // 2. ᾱ_t, ᾱ_{t'}, 1 − ᾱ_t (float32 scalars).
    const alphaProd = this.alphasCumprod[timestep]!;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    const sqrtAlpha = sqrt32(alphaProd);
    const sqrtBeta = sqrt32(betaProd);
    // 5. σ_t(η), Eq. 16.
    const variance = f32(f32(betaProdPrev / betaProd) * f32(1 - f32(alphaProd / alphaProdPrev)));
    const stdDev = f32(f32(eta) * sqrt32(variance));
    // 6. coefficient of the direction pointing to x_t: √(1 − ᾱ_{t'} − σ_t²).
    const directionCoeff = sqrt32(f32(betaProdPrev - f32(stdDev * stdDev)));
    const type = this.config.prediction_type;

    return tf.tidy(() => {
      // 3. x̂0 and ε̂ for the parameterisation (Eq. 12's "predicted x0").
      let predEpsilon: tf.Tensor;
      const rawOriginal = this.predictOriginalSample(modelOutput, sample, alphaProd);
      if (type === 'epsilon') predEpsilon = modelOutput;
      else if (type === 'sample') predEpsilon = tf.div(tf.sub(sample, tf.mul(sqrtAlpha, rawOriginal)), sqrtBeta);
      else predEpsilon = tf.add(tf.mul(sqrtAlpha, modelOutput), tf.mul(sqrtBeta, sample));
      // 4. Clip or threshold x̂0.
      const denoised = this.clipOrThreshold(rawOriginal);
      if (options.useClippedModelOutput) predEpsilon = tf.div(tf.sub(sample, tf.mul(sqrtAlpha, denoised)), sqrtBeta);
      // 6–7. x_{t'} = √ᾱ_{t'}·x̂0 + √(1 − ᾱ_{t'} − σ²)·ε̂.
      let prevSample = tf.add(tf.mul(sqrt32(alphaProdPrev), denoised), tf.mul(directionCoeff, predEpsilon));
      // + σ_t·z for η > 0.
      if (eta > 0) prevSample = tf.add(prevSample, tf.mul(stdDev, this.noiseFor(sample, options)));
      return { prevSample, denoised };
    });
  }
}
