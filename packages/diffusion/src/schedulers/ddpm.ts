/**
 * DDPM scheduler (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"), as diffusers' `DDPMScheduler`:
 * the training forward process (`addNoise`, `getVelocity`) and the ancestral reverse step
 * x_{t−1} = μ̃_t(x_t, x̂0) + σ_t·z with the posterior mean of Eq. 7 and the variance types
 * `fixed_small` (β̃_t), `fixed_small_log`, `fixed_large` (β_t), `learned` and `learned_range` (Nichol & Dhariwal 2021,
 * Eq. 15: the model's extra channels interpolate log β̃_t … log β_t).
 *
 * Layout: with a learned variance the model output has 2·C channels on the **last** axis (NHWC): the first C are the
 * prediction, the last C the variance values (diffusers splits channel axis 1 of NCHW).
 *
 * @example
 * ```ts
 * import { tf, Rng } from '@consistent-avatar/core';
 * import { DDPMScheduler } from '@consistent-avatar/diffusion';
 * const scheduler = new DDPMScheduler({ beta_schedule: 'squaredcos_cap_v2' });
 * const x0 = tf.zeros([1, 8, 8, 4]);
 * const eps = tf.tensor(new Rng(1).normal(256), [1, 8, 8, 4]);
 * const xt = scheduler.addNoise(x0, eps, 500);          // training input
 * scheduler.setTimesteps(50);
 * const { prevSample, denoised } = scheduler.step(eps, scheduler.timesteps[0]!, xt, { rng: new Rng(2) });
 * ```
 */
import { configField as f, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import { SchedulerBase, f32, sqrt32 } from './scheduler-base.js';
import { BASE_CONFIG_FIELDS, resolveSchedulerConfig } from './scheduler-config.js';
import { spacedTimesteps } from './timestep-spacing.js';
import { strengthStartIndex } from './handoff.js';
import type { BaseSchedulerConfig, SetTimestepsOptions, StepOptions, StepResult } from './types.js';

/** How σ_t² is chosen in the ancestral step. */
export type DDPMVarianceType = 'fixed_small' | 'fixed_small_log' | 'fixed_large' | 'learned' | 'learned_range';

/** `DDPMScheduler` config (diffusers field names). */
export interface DDPMSchedulerConfig extends BaseSchedulerConfig {
  variance_type: DDPMVarianceType;
}

/** diffusers' `DDPMScheduler.__init__` defaults. */
export const DDPM_DEFAULTS: DDPMSchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  variance_type: 'fixed_small',
  clip_sample: true,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

const DDPM_FIELDS: ConfigSchema<DDPMSchedulerConfig> = {
  ...BASE_CONFIG_FIELDS,
  variance_type: f.oneOf(['fixed_small', 'fixed_small_log', 'fixed_large', 'learned', 'learned_range']),
};

/** DDPM: ancestral sampling and the training noise process. Construct with a partial config (defaults above). */
export class DDPMScheduler extends SchedulerBase<DDPMSchedulerConfig> {
  private customTimesteps = false;

  /** @param config - diffusers `DDPMScheduler` fields; missing ones take {@link DDPM_DEFAULTS}. */
  constructor(config: Partial<DDPMSchedulerConfig> = {}) {
    super('DDPMScheduler', resolveSchedulerConfig('DDPMScheduler', DDPM_DEFAULTS, DDPM_FIELDS, config));
  }

  /** Build a scheduler from a `scheduler_config.json` object (unknown fields ignored). */
  static fromConfig(json: Record<string, unknown>): DDPMScheduler {
    return new DDPMScheduler(json as Partial<DDPMSchedulerConfig>);
  }

  /**
   * Set the inference schedule: `n` steps spaced by `timestep_spacing`, or custom descending `timesteps` (pass
   * `null` for `n`). `strength` < 1 keeps the last ⌊n·strength⌋ steps (img2img).
   */
  setTimesteps(numInferenceSteps: number | null, options: SetTimestepsOptions = {}): void {
    const fn = 'DDPMScheduler.setTimesteps';
    const T = this.config.num_train_timesteps;
    let schedule: number[];
    if (options.timesteps !== undefined) {
      if (numInferenceSteps !== null && numInferenceSteps !== undefined) {
        throw new ValidationError(fn, 'numInferenceSteps', 'null when custom timesteps are given', numInferenceSteps);
      }
      schedule = checkCustomTimesteps(fn, options.timesteps, T);
      this.customTimesteps = true;
    } else {
      schedule = spacedTimesteps(this.config.timestep_spacing, T, numInferenceSteps as number, this.config.steps_offset, fn);
      this.customTimesteps = false;
    }
    this.inferenceSteps = schedule.length;
    const start = options.strength === undefined ? 0 : strengthStartIndex(schedule.length, options.strength, fn);
    this.schedule = schedule.slice(start);
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** The timestep after `t`: the next custom one (−1 at the end), else t − ⌊T/n⌋ (t − 1 before setTimesteps). */
  previousTimestep(timestep: number): number {
    if (this.customTimesteps) {
      const index = this.schedule.indexOf(timestep);
      return index < 0 || index === this.schedule.length - 1 ? -1 : this.schedule[index + 1]!;
    }
    const n = this.inferenceSteps ?? this.config.num_train_timesteps;
    return timestep - Math.floor(this.config.num_train_timesteps / n);
  }

  /**
   * One ancestral step x_t → x_{t−1}.
   *
   * @param modelOutput - ε̂ / x̂0 / v̂ (`prediction_type`), the sample's shape, or 2·C channels on the last axis for a
   *   learned variance.
   * @param timestep - current t.
   * @param sample - x_t, any shape `[B, …, C]`.
   * @param options - `noise` or `rng` for z (needed when t > 0).
   * @returns `prevSample` = x_{t−1}, `denoised` = x̂0 (after clipping / thresholding).
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: StepOptions = {}): StepResult {
    const fn = 'DDPMScheduler.step';
    const learned = this.config.variance_type === 'learned' || this.config.variance_type === 'learned_range';
    this.checkStepInputs(fn, modelOutput, timestep, sample, options, learned);
    const hasVarianceChannels = modelOutput.shape[modelOutput.rank - 1] !== sample.shape[sample.rank - 1];
    if (learned && !hasVarianceChannels) {
      throw new ValidationError(fn, 'modelOutput', `2·C = ${2 * sample.shape[sample.rank - 1]!} channels on the last axis (variance_type '${this.config.variance_type}')`, modelOutput);
    }
    const t = timestep;
    if (t > 0) this.requireNoiseSource(fn, options);

    // 1. ᾱ_t, ᾱ_{t'} (t' the previous timestep), β̄ = 1 − ᾱ, α_t = ᾱ_t/ᾱ_{t'}, β_t = 1 − α_t (float32 scalars).
    const prevT = this.previousTimestep(t);
    const alphaProd = this.alphasCumprod[t]!;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : 1;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    const currentAlpha = f32(alphaProd / alphaProdPrev);
    const currentBeta = f32(1 - currentAlpha);
    // Eq. 7 coefficients of x̂0 and x_t in the posterior mean μ̃_t.
    const originalCoeff = f32(f32(sqrt32(alphaProdPrev) * currentBeta) / betaProd);
    const currentCoeff = f32(f32(sqrt32(currentAlpha) * betaProdPrev) / betaProd);
    // β̃_t = (1 − ᾱ_{t'})/(1 − ᾱ_t)·β_t (Eq. 7), clamped away from 0 because its log is taken.
    const posteriorVariance = Math.max(f32(f32(betaProdPrev / betaProd) * currentBeta), 1e-20);

    return tf.tidy(() => {
      let prediction = modelOutput;
      let predictedVariance: tf.Tensor | null = null;
      if (hasVarianceChannels) [prediction, predictedVariance] = tf.split(modelOutput, 2, modelOutput.rank - 1); // 2 × [B, …, C]
      // 2. x̂0 (Eq. 15 for ε), then 3. clip or threshold.
      const denoised = this.clipOrThreshold(this.predictOriginalSample(prediction, sample, alphaProd));
      // 4–5. μ̃_t = c0·x̂0 + c1·x_t.
      let prevSample = tf.add(tf.mul(originalCoeff, denoised), tf.mul(currentCoeff, sample));
      // 6. x_{t−1} = μ̃_t + σ_t·z for t > 0.
      if (t > 0) {
        const noise = this.noiseFor(sample, options);
        prevSample = tf.add(prevSample, this.varianceTerm(noise, posteriorVariance, currentBeta, predictedVariance));
      }
      return { prevSample, denoised };
    });
  }

  /** σ_t·z for the configured variance type (inside tf.tidy). */
  private varianceTerm(noise: tf.Tensor, posteriorVariance: number, currentBeta: number, predicted: tf.Tensor | null): tf.Tensor {
    switch (this.config.variance_type) {
      case 'fixed_small':
        return tf.mul(sqrt32(posteriorVariance), noise);
      case 'fixed_small_log':
        // exp(½·log β̃) — the same σ, computed through the log as diffusers does.
        return tf.mul(f32(Math.exp(f32(0.5 * f32(Math.log(posteriorVariance))))), noise);
      case 'fixed_large':
        return tf.mul(sqrt32(currentBeta), noise);
      case 'learned':
        // The model predicts σ² directly.
        return tf.mul(tf.sqrt(predicted!), noise);
      case 'learned_range': {
        // Nichol & Dhariwal Eq. 15: log σ² = v·log β_t + (1 − v)·log β̃_t with v = (output + 1)/2.
        const minLog = f32(Math.log(posteriorVariance));
        const maxLog = f32(Math.log(currentBeta));
        const fraction = tf.div(tf.add(predicted!, 1), 2);
        const logVariance = tf.add(tf.mul(fraction, maxLog), tf.mul(tf.sub(1, fraction), minLog));
        return tf.mul(tf.exp(tf.mul(0.5, logVariance)), noise);
      }
    }
  }
}

/** Validate custom timesteps: integers, strictly descending, the first < T. */
export function checkCustomTimesteps(fn: string, timesteps: readonly number[], numTrainTimesteps: number): number[] {
  if (!Array.isArray(timesteps) || timesteps.length === 0 || timesteps.some((t) => !Number.isInteger(t) || t < 0)) {
    throw new ValidationError(fn, 'options.timesteps', 'a non-empty array of integer timesteps ≥ 0', timesteps);
  }
  for (let i = 1; i < timesteps.length; i++) {
    if (timesteps[i]! >= timesteps[i - 1]!) {
      throw new ValidationError(fn, 'options.timesteps', 'strictly descending timesteps', timesteps);
    }
  }
  if (timesteps[0]! >= numTrainTimesteps) {
    throw new ValidationError(fn, 'options.timesteps', `timesteps below num_train_timesteps (${numTrainTimesteps})`, timesteps);
  }
  return [...timesteps];
}
