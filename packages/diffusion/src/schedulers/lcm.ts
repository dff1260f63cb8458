/**
 * Latent Consistency Model scheduler (Luo et al. 2023, "Latent Consistency Models"), as diffusers' `LCMScheduler`.
 *
 * Schedule: the distillation grid is the skipping-step sequence t_i = i·k − 1, i = 1 … ⌊N·strength⌋, with
 * k = ⌊T/N⌋ and N = `original_inference_steps` (50 → 19, 39, …, 999). n inference steps take the grid points at
 * indices ⌊linspace(0, len, n, endpoint=False)⌋ of the reversed grid (diffusers ≥ PR #5836; n = 4 → 999, 759, 499,
 * 259). `legacySchedule: true` reproduces the older `grid[::-⌊len/n⌋][:n]` (n = 4 → 999, 759, 519, 279).
 *
 * Step (Luo et al. Eq. 9 and Algorithm 3): x̂0 from the model output, then the consistency boundary condition
 * `denoised = c_skip(t)·x_t + c_out(t)·x̂0` with c_skip = σ_d²/((s·t)² + σ_d²), c_out = s·t/√((s·t)² + σ_d²),
 * σ_d = 0.5, s = `timestep_scaling` (10), and — except after the last step — fresh noise to the next grid point:
 * x_{t'} = √ᾱ_{t'}·denoised + √(1 − ᾱ_{t'})·z. The sample to decode is `denoised` of the last step.
 *
 * @example
 * ```ts
 * import { tf, Rng } from '@consistent-avatar/core';
 * import { LCMScheduler } from '@consistent-avatar/diffusion';
 * const scheduler = new LCMScheduler();                 // diffusers defaults (SD 1.5 betas)
 * scheduler.setTimesteps(4);                            // [999, 759, 499, 259]
 * const rng = new Rng(0);
 * let x = tf.tensor(rng.normal(256), [1, 8, 8, 4]);
 * for (const t of scheduler.timesteps) {
 *   const eps = tf.zerosLike(x);                        // the distilled UNet's ε̂ here
 *   const { prevSample, denoised } = scheduler.step(eps, t, x, { rng });
 *   x.dispose(); eps.dispose();
 *   x = prevSample; denoised.dispose();
 * }
 * ```
 */
import { configField as f, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import { SchedulerBase, f32, sqrt32 } from './scheduler-base.js';
import { BASE_CONFIG_FIELDS, resolveSchedulerConfig } from './scheduler-config.js';
import { checkCustomTimesteps } from './ddpm.js';
import { strengthStartIndex } from './handoff.js';
import type { BaseSchedulerConfig, SetTimestepsOptions, StepOptions, StepResult } from './types.js';

/** `LCMScheduler` config (diffusers field names). */
export interface LCMSchedulerConfig extends BaseSchedulerConfig {
  /** Size N of the distillation grid (50). */
  original_inference_steps: number;
  /** ᾱ before t = 0 (unused by LCM sampling: it only enters the noise injection, skipped on the last step). */
  set_alpha_to_one: boolean;
  /** s in the boundary condition (10; larger → closer to c_skip = 0, c_out = 1). */
  timestep_scaling: number;
}

/** diffusers' `LCMScheduler.__init__` defaults. */
export const LCM_DEFAULTS: LCMSchedulerConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  trained_betas: null,
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  timestep_scaling: 10.0,
  rescale_betas_zero_snr: false,
};

const LCM_FIELDS: ConfigSchema<LCMSchedulerConfig> = {
  ...BASE_CONFIG_FIELDS,
  original_inference_steps: f.positiveInt(),
  set_alpha_to_one: f.boolean(),
  timestep_scaling: f.positiveNumber(),
};

/** σ_data of the consistency boundary condition. */
export const LCM_SIGMA_DATA = 0.5;

/** Options of {@link LCMScheduler.setTimesteps} beyond the common ones. */
export interface LCMSetTimestepsOptions extends SetTimestepsOptions {
  /** Use the pre-PR-#5836 index rule `grid[::-⌊len/n⌋][:n]` (older diffusers). Default false. */
  legacySchedule?: boolean;
}

/**
 * c_skip(t) and c_out(t) of the consistency boundary condition (Song et al. 2023, "Consistency Models", Eq. 8 with
 * σ_min → 0, and LCM's discrete form): c_skip = σ_d²/((s·t)² + σ_d²), c_out = s·t/√((s·t)² + σ_d²).
 *
 * @param timestep - t (integer or not).
 * @param timestepScaling - s (10).
 * @returns `[cSkip, cOut]` in float64; c_skip(0) = 1, c_out(0) = 0.
 * @example
 * ```ts
 * import { lcmBoundaryScalings } from '@consistent-avatar/diffusion';
 * lcmBoundaryScalings(0);   // [1, 0]
 * lcmBoundaryScalings(999); // [2.505e-9, 0.9999999987]
 * ```
 */
export function lcmBoundaryScalings(timestep: number, timestepScaling = 10): [number, number] {
  const scaled = timestep * timestepScaling;
  const sigma2 = LCM_SIGMA_DATA * LCM_SIGMA_DATA;
  const cSkip = sigma2 / (scaled * scaled + sigma2);
  const cOut = scaled / Math.sqrt(scaled * scaled + sigma2);
  return [cSkip, cOut];
}

/** LCM: few-step (1–8) sampling of a consistency-distilled model. */
export class LCMScheduler extends SchedulerBase<LCMSchedulerConfig> {
  /** ᾱ used when the next timestep is below 0. */
  readonly finalAlphaCumprod: number;

  /** @param config - diffusers `LCMScheduler` fields; missing ones take {@link LCM_DEFAULTS}. */
  constructor(config: Partial<LCMSchedulerConfig> = {}) {
    super('LCMScheduler', resolveSchedulerConfig('LCMScheduler', LCM_DEFAULTS, LCM_FIELDS, config));
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
    if (this.config.original_inference_steps > this.config.num_train_timesteps) {
      throw new ValidationError('LCMScheduler', 'config.original_inference_steps', `at most num_train_timesteps (${this.config.num_train_timesteps})`, this.config.original_inference_steps);
    }
  }

  /** Build a scheduler from a `scheduler_config.json` object (unknown fields ignored), e.g. an SD 1.5 config. */
  static fromConfig(json: Record<string, unknown>): LCMScheduler {
    return new LCMScheduler(json as Partial<LCMSchedulerConfig>);
  }

  /** The distillation grid t_i = i·⌊T/N⌋ − 1 for i = 1 … ⌊N·strength⌋ (ascending). */
  originalTimesteps(originalInferenceSteps = this.config.original_inference_steps, strength = 1): number[] {
    const k = Math.floor(this.config.num_train_timesteps / originalInferenceSteps);
    const count = Math.trunc(originalInferenceSteps * strength);
    return Array.from({ length: count }, (_, i) => (i + 1) * k - 1);
  }

  /**
   * Set the inference schedule: `n` points of the skipping-step grid, or custom descending `timesteps` (pass `null`
   * for `n`). `strength` in (0, 1] shortens the grid to its first ⌊N·strength⌋ points (img2img); with custom
   * timesteps it keeps their last ⌊len·strength⌋.
   *
   * Deviation: with custom timesteps and strength < 1 diffusers keeps `num_inference_steps` at the full custom
   * length, so its last step still injects noise; here `numInferenceSteps` is the kept length and the last step
   * returns `denoised`.
   *
   * @throws ValidationError when n > N·strength (n > `original_inference_steps` at strength 1), n > T, strength
   *   outside (0, 1], or custom timesteps not strictly descending / not below T.
   */
  setTimesteps(numInferenceSteps: number | null, options: LCMSetTimestepsOptions = {}): void {
    const fn = 'LCMScheduler.setTimesteps';
    const T = this.config.num_train_timesteps;
    const strength = options.strength ?? 1;
    if (typeof strength !== 'number' || !(strength > 0 && strength <= 1)) {
      throw new ValidationError(fn, 'options.strength', 'a number in (0, 1]', options.strength);
    }
    const originalSteps = options.originalInferenceSteps ?? this.config.original_inference_steps;
    if (!Number.isInteger(originalSteps) || originalSteps < 1 || originalSteps > T) {
      throw new ValidationError(fn, 'options.originalInferenceSteps', `an integer in [1, ${T}] (num_train_timesteps)`, originalSteps);
    }
    // 1. The distillation grid (ascending).
    const grid = this.originalTimesteps(originalSteps, strength);

    let schedule: number[];
    if (options.timesteps !== undefined) {
      // 2.1 Custom timesteps (diffusers only warns when they are off the grid).
      if (numInferenceSteps !== null && numInferenceSteps !== undefined) {
        throw new ValidationError(fn, 'numInferenceSteps', 'null when custom timesteps are given', numInferenceSteps);
      }
      const custom = checkCustomTimesteps(fn, options.timesteps, T);
      schedule = custom.slice(strengthStartIndex(custom.length, strength, fn));
    } else {
      // 2.2 n evenly spaced indices into the reversed grid.
      const n = numInferenceSteps;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > T) {
        throw new ValidationError(fn, 'numInferenceSteps', `an integer in [1, ${T}] (num_train_timesteps)`, n);
      }
      if (n > originalSteps || Math.floor(grid.length / n) < 1) {
        throw new ValidationError(
          fn,
          'numInferenceSteps',
          `at most the ${grid.length} grid points of original_inference_steps × strength (${originalSteps} × ${strength})`,
          n,
        );
      }
      const reversed = [...grid].reverse();
      if (options.legacySchedule) {
        const skip = Math.floor(reversed.length / n);
        schedule = reversed.filter((_, i) => i % skip === 0).slice(0, n);
      } else {
        // np.floor(np.linspace(0, len, n, endpoint=False)): index_i = ⌊i·(len/n)⌋.
        const spacing = reversed.length / n;
        schedule = Array.from({ length: n }, (_, i) => reversed[Math.floor(i * spacing)]!);
      }
    }
    this.schedule = schedule;
    this.inferenceSteps = schedule.length;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /**
   * One LCM step.
   *
   * @param modelOutput - ε̂ / x̂0 / v̂ (`prediction_type`), the sample's shape.
   * @param timestep - current t (must be the schedule's next timestep).
   * @param sample - x_t, any shape `[B, …]`.
   * @param options - `noise` or `rng` for the injected noise (needed on every step but the last).
   * @returns `denoised` = c_skip·x_t + c_out·x̂0; `prevSample` = the re-noised `denoised` at the next timestep, or a
   *   copy of `denoised` after the last step.
   */
  step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: StepOptions = {}): StepResult {
    const fn = 'LCMScheduler.step';
    this.checkStepInputs(fn, modelOutput, timestep, sample, options);
    const numInferenceSteps = this.requireSchedule(fn);
    const index = this.stepIndex ?? this.initStepIndex(fn, timestep);
    if (index >= this.schedule.length || this.schedule[index] !== timestep) {
      const expected = index < this.schedule.length ? `timestep ${this.schedule[index]} (step ${index} of the schedule)` : 'no further step (the schedule is finished; call setTimesteps again)';
      throw new ValidationError(fn, 'timestep', expected, timestep);
    }
    const isLast = index === numInferenceSteps - 1;
    if (!isLast) this.requireNoiseSource(fn, options);

    // 1. The next timestep t' (t itself on the last step).
    const prevT = index + 1 < this.schedule.length ? this.schedule[index + 1]! : timestep;
    // 2. ᾱ_t, ᾱ_{t'} (float32 scalars).
    const alphaProd = this.alphasCumprod[timestep]!;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    // 3. Boundary-condition scalings.
    const [cSkip, cOut] = lcmBoundaryScalings(timestep, this.config.timestep_scaling);

    const result = tf.tidy(() => {
      // 4. x̂0, then 5. clip or threshold.
      const predicted = this.clipOrThreshold(this.predictOriginalSample(modelOutput, sample, alphaProd));
      // 6. denoised = c_out·x̂0 + c_skip·x_t.
      const denoised = tf.add(tf.mul(f32(cOut), predicted), tf.mul(f32(cSkip), sample));
      // 7. Noise injection to t' (multi-step sampling), none after the last step.
      const prevSample = isLast
        ? tf.clone(denoised)
        : tf.add(tf.mul(sqrt32(alphaProdPrev), denoised), tf.mul(sqrt32(f32(1 - alphaProdPrev)), this.noiseFor(sample, options)));
      return { prevSample, denoised };
    });
    this.stepIndex = index + 1;
    return result;
  }
}
