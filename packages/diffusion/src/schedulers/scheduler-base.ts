/**
 * What DDPM, DDIM and LCM share: the noise schedule (β, ᾱ), the forward process (`addNoise`, `getVelocity`), x̂0 from
 * the model output for each parameterisation, clipping / dynamic thresholding, the injected noise, step-index
 * bookkeeping, argument validation and the JSON form.
 *
 * Precision: scalar coefficients are computed in JavaScript with `Math.fround` after each operation, mirroring the
 * 0-d float32 torch tensors diffusers uses, and tensor math is float32 tf ops in diffusers' order. The scheduler
 * fixtures then match to a few float32 ulps (see schedulers.test.ts).
 *
 * @example
 * ```ts
 * import { tf, Rng } from '@consistent-avatar/core';
 * import { DDPMScheduler } from '@consistent-avatar/diffusion';
 * const scheduler = new DDPMScheduler();                  // any subclass
 * const x0 = tf.ones([2, 8, 8, 4]);                       // [B, H, W, C]
 * const noise = tf.tensor(new Rng(7).normal(512), [2, 8, 8, 4]);
 * const noisy = scheduler.addNoise(x0, noise, [10, 900]); // one timestep per batch item
 * const target = scheduler.getVelocity(x0, noise, [10, 900]); // v-prediction training target
 * ```
 */
import { checkFinite, tf, ValidationError, type FiniteOptions, type Rng } from '@consistent-avatar/core';
import { alphasCumprodFromBetas, computeBetas } from './beta-schedules.js';
import type {
  BaseSchedulerConfig,
  PredictionType,
  SchedulerClassName,
  SchedulerConfigJson,
  SetTimestepsOptions,
  StepOptions,
  StepResult,
  Scheduler,
} from './types.js';

/** Round to float32 (one float32 operation's rounding). */
export const f32 = Math.fround;

/** √x rounded to float32 (torch `tensor ** 0.5` on a float32 0-d tensor). */
export function sqrt32(x: number): number {
  return Math.fround(Math.sqrt(x));
}

/** Shared implementation of {@link Scheduler}; subclasses add the schedule and the step. */
export abstract class SchedulerBase<C extends BaseSchedulerConfig> implements Scheduler {
  readonly className: SchedulerClassName;
  readonly config: Readonly<C>;
  /** β_t, float32 values. */
  readonly betas: Float32Array;
  readonly alphasCumprod: Float32Array;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  protected schedule: number[];
  protected inferenceSteps: number | null = null;
  /** Index into {@link timesteps} of the next step (set on the first step, like diffusers' `_step_index`). */
  protected stepIndex: number | null = null;
  protected beginIndex: number | null = null;

  protected constructor(className: SchedulerClassName, config: C) {
    this.className = className;
    if (Array.isArray(config.trained_betas)) Object.freeze(config.trained_betas);
    this.config = Object.freeze(config);
    this.betas = computeBetas(config, className);
    this.alphasCumprod = alphasCumprodFromBetas(this.betas);
    // Before setTimesteps: every training timestep, descending.
    this.schedule = Array.from({ length: config.num_train_timesteps }, (_, i) => config.num_train_timesteps - 1 - i);
  }

  get timesteps(): readonly number[] {
    return this.schedule;
  }

  get numInferenceSteps(): number | null {
    return this.inferenceSteps;
  }

  abstract setTimesteps(numInferenceSteps: number | null, options?: SetTimestepsOptions): void;

  abstract step(modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options?: StepOptions): StepResult;

  setBeginIndex(beginIndex: number): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0 || beginIndex >= this.schedule.length) {
      throw new ValidationError(`${this.className}.setBeginIndex`, 'beginIndex', `an integer in [0, ${this.schedule.length})`, beginIndex);
    }
    this.beginIndex = beginIndex;
    this.stepIndex = null;
  }

  /**
   * Forward process q(x_t | x_0) (Ho et al. 2020, Eq. 4): x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε.
   *
   * @param originalSamples - x0, `[B, …]`.
   * @param noise - ε, same shape.
   * @param timestep - one integer for the whole batch, or one per batch item (length B).
   * @param options - `allowNonFinite: true` skips the non-finite check of both tensors (one reduction and one scalar
   *   read each); training loops whose data was checked at their entry, and whose loss check fails fast, pass it.
   * @returns x_t, same shape (new tensor).
   */
  addNoise(originalSamples: tf.Tensor, noise: tf.Tensor, timestep: number | readonly number[], options: FiniteOptions = {}): tf.Tensor {
    const fn = `${this.className}.addNoise`;
    this.checkTensor(fn, 'originalSamples', originalSamples);
    this.checkSameShape(fn, 'noise', noise, originalSamples);
    const [sqrtAlpha, sqrtOneMinusAlpha] = this.forwardCoefficients(fn, timestep, originalSamples);
    this.checkFiniteInputs(fn, [['originalSamples', originalSamples], ['noise', noise]], options);
    return tf.tidy(() => {
      const a = this.coefficientTensor(sqrtAlpha, originalSamples.rank);
      const b = this.coefficientTensor(sqrtOneMinusAlpha, originalSamples.rank);
      return tf.add(tf.mul(a, originalSamples), tf.mul(b, noise));
    });
  }

  /**
   * The v-prediction target (Salimans & Ho 2022, §4): v = √ᾱ_t·ε − √(1−ᾱ_t)·x0.
   *
   * @param sample - x0, `[B, …]`.
   * @param noise - ε, same shape.
   * @param timestep - one integer, or one per batch item.
   * @param options - `allowNonFinite: true` skips the non-finite check (as {@link SchedulerBase.addNoise}).
   */
  getVelocity(sample: tf.Tensor, noise: tf.Tensor, timestep: number | readonly number[], options: FiniteOptions = {}): tf.Tensor {
    const fn = `${this.className}.getVelocity`;
    this.checkTensor(fn, 'sample', sample);
    this.checkSameShape(fn, 'noise', noise, sample);
    const [sqrtAlpha, sqrtOneMinusAlpha] = this.forwardCoefficients(fn, timestep, sample);
    this.checkFiniteInputs(fn, [['sample', sample], ['noise', noise]], options);
    return tf.tidy(() => {
      const a = this.coefficientTensor(sqrtAlpha, sample.rank);
      const b = this.coefficientTensor(sqrtOneMinusAlpha, sample.rank);
      return tf.sub(tf.mul(a, noise), tf.mul(b, sample));
    });
  }

  /**
   * Identity (these schedulers need no input scaling); returns a new handle to the same data — dispose it. It runs once
   * per sampling step and carries NaN / ±Infinity unchecked: `step` checks the same sample.
   */
  scaleModelInput(sample: tf.Tensor, timestep?: number): tf.Tensor {
    const fn = `${this.className}.scaleModelInput`;
    this.checkTensor(fn, 'sample', sample);
    if (timestep !== undefined) this.checkTimestep(fn, timestep);
    return tf.clone(sample);
  }

  /** diffusers `scheduler_config.json` content: `_class_name` plus every config field. */
  toJSON(): SchedulerConfigJson {
    const config = { ...this.config } as Record<string, unknown>;
    if (Array.isArray(config.trained_betas)) config.trained_betas = [...(config.trained_betas as number[])];
    return { _class_name: this.className, ...config };
  }

  // ---- helpers for subclasses -------------------------------------------------------------------------------------

  /** Validate a timestep: an integer in [0, T). */
  protected checkTimestep(fn: string, timestep: number, argument = 'timestep'): void {
    const T = this.config.num_train_timesteps;
    if (typeof timestep !== 'number' || !Number.isInteger(timestep) || timestep < 0 || timestep >= T) {
      throw new ValidationError(fn, argument, `an integer timestep in [0, ${T})`, timestep);
    }
  }

  /** Throw a `ValidationError` naming `fn` and `argument` unless `value` is a live float32 tensor. */
  protected checkTensor(fn: string, argument: string, value: unknown): asserts value is tf.Tensor {
    if (!(value instanceof tf.Tensor)) throw new ValidationError(fn, argument, 'a tf.Tensor', value);
    if (value.isDisposed) throw new ValidationError(fn, argument, 'a live (not disposed) tensor', value);
    if (value.dtype !== 'float32') throw new ValidationError(fn, argument, 'a float32 tensor', value);
  }

  /** The non-finite policy for the forward process: each named tensor must be finite unless the caller opts out. */
  private checkFiniteInputs(fn: string, tensors: [string, tf.Tensor][], options: FiniteOptions): void {
    if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an options object', options);
    for (const [argument, value] of tensors) checkFinite(fn, argument, value, options);
  }

  /** {@link SchedulerBase.checkTensor}, and `value` must have the shape of `reference` (the sample). */
  protected checkSameShape(fn: string, argument: string, value: unknown, reference: tf.Tensor): asserts value is tf.Tensor {
    this.checkTensor(fn, argument, value);
    if (!tf.util.arraysEqual(value.shape, reference.shape)) {
      throw new ValidationError(fn, argument, `a tensor of the sample's shape [${reference.shape.join(', ')}]`, value);
    }
  }

  /** Validate step arguments: tensors, timestep, and the noise option's shape. */
  protected checkStepInputs(fn: string, modelOutput: tf.Tensor, timestep: number, sample: tf.Tensor, options: StepOptions, allowDoubleChannels = false): void {
    this.checkTensor(fn, 'sample', sample);
    this.checkTensor(fn, 'modelOutput', modelOutput);
    const same = tf.util.arraysEqual(modelOutput.shape, sample.shape);
    const doubled =
      allowDoubleChannels &&
      modelOutput.rank === sample.rank &&
      modelOutput.shape.every((d, i) => (i === sample.rank - 1 ? d === 2 * sample.shape[i]! : d === sample.shape[i]));
    if (!same && !doubled) {
      throw new ValidationError(fn, 'modelOutput', `a tensor of the sample's shape [${sample.shape.join(', ')}]`, modelOutput);
    }
    this.checkTimestep(fn, timestep);
    if (options === null || typeof options !== 'object') throw new ValidationError(fn, 'options', 'an options object', options);
    // The non-finite policy: clipping / thresholding would turn NaN into finite numbers silently.
    checkFinite(fn, 'sample', sample, options);
    checkFinite(fn, 'modelOutput', modelOutput, options);
    if (options.noise !== undefined) this.checkSameShape(fn, 'options.noise', options.noise, sample);
    if (options.rng !== undefined && (typeof options.rng !== 'object' || typeof (options.rng as Rng).normal !== 'function')) {
      throw new ValidationError(fn, 'options.rng', 'a seeded Rng from @consistent-avatar/core', options.rng);
    }
  }

  /** The number of inference steps, or a ValidationError if setTimesteps was not called. */
  protected requireSchedule(fn: string): number {
    if (this.inferenceSteps === null) {
      throw new ValidationError(fn, 'numInferenceSteps', 'setTimesteps(n) to have been called before step', null);
    }
    return this.inferenceSteps;
  }

  /** Fail early when a stochastic step has no noise source (call before tf.tidy). */
  protected requireNoiseSource(fn: string, options: StepOptions): void {
    if (options.noise === undefined && options.rng === undefined) {
      throw new ValidationError(fn, 'options.noise', 'a noise tensor or options.rng (a seeded Rng) for this stochastic step', undefined);
    }
  }

  /** The injected noise z ~ N(0, I): the given tensor, or drawn from the Rng (call inside tf.tidy). */
  protected noiseFor(sample: tf.Tensor, options: StepOptions): tf.Tensor {
    if (options.noise !== undefined) return options.noise;
    return tf.tensor(options.rng!.normal(sample.size), sample.shape, 'float32');
  }

  /** x̂0 from the model output for the configured parameterisation (Ho et al. Eq. 15; Salimans & Ho §4). */
  protected predictOriginalSample(modelOutput: tf.Tensor, sample: tf.Tensor, alphaProd: number): tf.Tensor {
    const sqrtAlpha = sqrt32(alphaProd);
    const sqrtBeta = sqrt32(f32(1 - alphaProd));
    const type: PredictionType = this.config.prediction_type;
    if (type === 'epsilon') return tf.div(tf.sub(sample, tf.mul(sqrtBeta, modelOutput)), sqrtAlpha);
    if (type === 'sample') return tf.clone(modelOutput);
    return tf.sub(tf.mul(sqrtAlpha, sample), tf.mul(sqrtBeta, modelOutput));
  }

  /** Clip x̂0 to ±clip_sample_range, or dynamic-threshold it (Saharia et al. 2022, §2.3), as configured. */
  protected clipOrThreshold(predicted: tf.Tensor): tf.Tensor {
    if (this.config.thresholding) return this.thresholdSample(predicted);
    if (this.config.clip_sample) return tf.clipByValue(predicted, -this.config.clip_sample_range, this.config.clip_sample_range);
    return predicted;
  }

  /**
   * Dynamic thresholding: s = the `dynamic_thresholding_ratio` quantile of |x̂0| per batch item (linear
   * interpolation, as torch.quantile), clamped to [1, sample_max_value]; x̂0 ← clamp(x̂0, −s, s)/s.
   */
  protected thresholdSample(sample: tf.Tensor): tf.Tensor {
    const batch = sample.shape[0] ?? 1;
    const count = sample.size / batch;
    const flat = tf.reshape(sample, [batch, count]); // [B, N]
    const sortedDescending = tf.topk(tf.abs(flat), count, true).values; // [B, N], largest first
    const rank = f32(f32(this.config.dynamic_thresholding_ratio) * (count - 1));
    const below = Math.floor(rank);
    const above = Math.min(below + 1, count - 1);
    const weight = f32(rank - below);
    const low = tf.slice(sortedDescending, [0, count - 1 - below], [batch, 1]); // [B, 1]
    const high = tf.slice(sortedDescending, [0, count - 1 - above], [batch, 1]); // [B, 1]
    // torch.lerp: start + w·(end − start) for w < 0.5, else end − (end − start)·(1 − w).
    const span = tf.sub(high, low);
    const quantile = weight < 0.5 ? tf.add(low, tf.mul(span, weight)) : tf.sub(high, tf.mul(span, f32(1 - weight)));
    const threshold = tf.minimum(tf.maximum(quantile, 1), this.config.sample_max_value); // [B, 1]
    const clamped = tf.div(tf.minimum(tf.maximum(flat, tf.neg(threshold)), threshold), threshold);
    return tf.reshape(clamped, sample.shape);
  }

  /** Find the step index of `timestep` (diffusers `index_for_timestep`: the second match if it appears twice). */
  protected initStepIndex(fn: string, timestep: number): number {
    if (this.beginIndex !== null) return this.beginIndex;
    const matches: number[] = [];
    this.schedule.forEach((t, i) => {
      if (t === timestep) matches.push(i);
    });
    if (matches.length === 0) {
      throw new ValidationError(fn, 'timestep', `one of the scheduler's timesteps [${this.schedule.slice(0, 8).join(', ')}${this.schedule.length > 8 ? ', …' : ''}]`, timestep);
    }
    return matches.length > 1 ? matches[1]! : matches[0]!;
  }

  /** √ᾱ_t and √(1−ᾱ_t) (float32) for one timestep or one per batch item. */
  private forwardCoefficients(fn: string, timestep: number | readonly number[], sample: tf.Tensor): [number[], number[]] {
    const list = typeof timestep === 'number' ? [timestep] : timestep;
    if (!Array.isArray(list) || list.length === 0) {
      throw new ValidationError(fn, 'timestep', 'an integer timestep or an array of them (one per batch item)', timestep);
    }
    const batch = sample.shape[0];
    if (list.length !== 1 && list.length !== batch) {
      throw new ValidationError(fn, 'timestep', `one timestep or ${batch} (one per batch item)`, timestep);
    }
    list.forEach((t) => this.checkTimestep(fn, t));
    const alphas = list.map((t) => this.alphasCumprod[t]!);
    return [alphas.map((a) => sqrt32(a)), alphas.map((a) => sqrt32(f32(1 - a)))];
  }

  /** A scalar, or a `[B, 1, …, 1]` tensor of per-item coefficients (call inside tf.tidy). */
  private coefficientTensor(values: number[], rank: number): tf.Tensor | number {
    if (values.length === 1) return values[0]!;
    return tf.tensor(values, [values.length, ...new Array<number>(Math.max(rank - 1, 0)).fill(1)], 'float32'); // [B, 1, …, 1]
  }
}
