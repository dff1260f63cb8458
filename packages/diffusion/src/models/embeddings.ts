/**
 * Timestep embeddings of diffusers' `UNet2DConditionModel`: the weight-free sinusoidal `Timesteps` projection
 * (`get_timestep_embedding`) and the learned `TimestepEmbedding` MLP (`linear_1 → SiLU → linear_2`, with LCM's
 * optional guidance input `cond_proj`).
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { timestepEmbedding, TimestepEmbedding } from '@consistent-avatar/diffusion';
 * const features = timestepEmbedding(tf.tensor1d([0, 999]), 32, { flipSinToCos: true }); // [2, 32]
 * const mlp = new TimestepEmbedding(32, 128, { seed: 1 });
 * const emb = mlp.forward(features);                                                    // [2, 128]
 * ```
 */
import { checkFinite, nn, tf, ValidationError } from '@consistent-avatar/core';
import { modelRng, type ModelInitOptions } from './init.js';

/** Options of {@link timestepEmbedding}. */
export interface TimestepEmbeddingOptions {
  /** Put the cosine half first (`flip_sin_to_cos`, true in SD). Default false. */
  flipSinToCos?: boolean;
  /** `freq_shift` / `downscale_freq_shift` (0 in SD). Default 1 as in diffusers' function. */
  downscaleFreqShift?: number;
  /** Multiplier on the arguments. Default 1. */
  scale?: number;
  /** Longest period. Default 10000. */
  maxPeriod?: number;
}

/**
 * Sinusoidal timestep features (diffusers `get_timestep_embedding`): with half = ⌊dim/2⌋,
 * freq_i = exp(−ln(maxPeriod)·i / (half − shift)), arg = t·freq_i·scale, features = [sin(arg), cos(arg)]
 * (or [cos, sin] with `flipSinToCos`), zero-padded by one column when `dim` is odd.
 *
 * @param timesteps - `[B]` float timesteps (integers allowed). Not checked for NaN / ±Infinity (it runs inside every
 *   UNet and ControlNet forward, which check their `timestep` argument first): a non-finite timestep gives a
 *   non-finite row.
 * @param dim - feature size.
 * @returns `[B, dim]`.
 * @example
 * ```ts
 * timestepEmbedding(tf.tensor1d([0, 500]), 320, { flipSinToCos: true, downscaleFreqShift: 0 }).shape; // [2, 320]
 * ```
 */
export function timestepEmbedding(timesteps: tf.Tensor, dim: number, options: TimestepEmbeddingOptions = {}): tf.Tensor2D {
  if (!(timesteps instanceof tf.Tensor) || timesteps.rank !== 1) {
    throw new ValidationError('timestepEmbedding', 'timesteps', 'a rank-1 tensor [B]', timesteps);
  }
  if (!Number.isInteger(dim) || dim < 2) throw new ValidationError('timestepEmbedding', 'dim', 'an integer ≥ 2', dim);
  const shift = options.downscaleFreqShift ?? 1;
  const maxPeriod = options.maxPeriod ?? 10000;
  const scale = options.scale ?? 1;
  for (const [key, value] of [['downscaleFreqShift', shift], ['maxPeriod', maxPeriod], ['scale', scale]] as const) checkFinite('timestepEmbedding', `options.${key}`, value);
  const half = Math.floor(dim / 2);
  if (half - shift === 0) throw new ValidationError('timestepEmbedding', 'options.downscaleFreqShift', `a value ≠ dim/2 (${half})`, shift);
  // Frequencies in float32 exactly as torch computes them: exp(float32(−ln(P)·i) / (half − shift)).
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp(Math.fround(Math.fround(Math.fround(-Math.log(maxPeriod)) * i) / (half - shift)));
  return tf.tidy(() => {
    const args = tf.mul(tf.cast(timesteps, 'float32').reshape([-1, 1]), tf.tensor2d(freqs, [1, half])); // [B, half]
    const scaled = scale === 1 ? args : tf.mul(args, scale);
    const sin = tf.sin(scaled);
    const cos = tf.cos(scaled);
    let emb = options.flipSinToCos ? tf.concat([cos, sin], 1) : tf.concat([sin, cos], 1); // [B, 2·half]
    if (dim % 2 === 1) emb = tf.pad(emb, [[0, 0], [0, 1]]);
    return emb as tf.Tensor2D;
  });
}

/** Options of {@link TimestepEmbedding}. */
export interface TimestepEmbeddingModuleOptions extends ModelInitOptions {
  /** `cond_proj_dim`: size of LCM's guidance embedding w (Linear(condDim → inChannels, no bias)); null = none. */
  condProjDim?: number | null;
  /** Output size of linear_2 (default `timeEmbedDim`). */
  outDim?: number;
}

/**
 * diffusers `TimestepEmbedding`: `linear_1 (in → timeEmbedDim) → SiLU → linear_2 (timeEmbedDim → out)`; with
 * `condProjDim`, `cond_proj(condition)` is added to the input features first (LCM's w embedding, `timestep_cond`).
 * Keys: `linear_1.*`, `linear_2.*`, `cond_proj.weight`.
 * @example
 * ```ts
 * const emb = new TimestepEmbedding(320, 1280, { condProjDim: 256, seed: 0 });
 * emb.forward(tf.zeros([1, 320]), tf.zeros([1, 256])).shape; // [1, 1280]
 * ```
 */
export class TimestepEmbedding extends nn.Module {
  readonly linear_1: nn.Linear;
  readonly cond_proj: nn.Linear | null;
  readonly linear_2: nn.Linear;
  /**
   * @param inChannels - size of the sinusoidal features.
   * @param timeEmbedDim - hidden / output size.
   */
  constructor(
    readonly inChannels: number,
    readonly timeEmbedDim: number,
    options: TimestepEmbeddingModuleOptions = {},
  ) {
    super();
    const rng = modelRng(options, 'TimestepEmbedding');
    this.linear_1 = this.registerModule('linear_1', new nn.Linear(inChannels, timeEmbedDim, { rng }));
    const condDim = options.condProjDim ?? null;
    this.cond_proj = condDim ? this.registerModule('cond_proj', new nn.Linear(condDim, inChannels, { rng, bias: false })) : null;
    this.linear_2 = this.registerModule('linear_2', new nn.Linear(timeEmbedDim, options.outDim ?? timeEmbedDim, { rng }));
  }

  /**
   * @param sample - `[B, inChannels]` sinusoidal features.
   * @param condition - `[B, condProjDim]` (only with `condProjDim`).
   * @returns `[B, outDim]`.
   */
  forward(sample: tf.Tensor, condition?: tf.Tensor | null): tf.Tensor2D {
    if (condition && !this.cond_proj) {
      throw new ValidationError('TimestepEmbedding.forward', 'condition', 'nothing (this embedding has no cond_proj; set time_cond_proj_dim)', condition);
    }
    return tf.tidy(() => {
      const x = condition ? tf.add(sample, this.cond_proj!.forward(condition)) : sample;
      return this.linear_2.forward(nn.silu(this.linear_1.forward(x))) as tf.Tensor2D;
    });
  }
}
