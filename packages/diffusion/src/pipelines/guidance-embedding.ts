/**
 * LCM's guidance-scale embedding (diffusers `get_guidance_scale_embedding`, from the LCM pipeline and the
 * consistency-distillation script): sinusoidal features of w·1000 with `[sin, cos]` order and frequencies
 * exp(−ln(10000)·i / (half − 1)). The student UNet receives it as `timestepCond` (through
 * `time_embedding.cond_proj`). At sampling time w = guidance_scale − 1 (the CFG form uncond + g·(cond − uncond)
 * equals cond + w·(cond − uncond) with w = g − 1, which is how the distillation teacher is guided).
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { guidanceScaleEmbedding } from '@consistent-avatar/diffusion';
 * const w = guidanceScaleEmbedding([7.5, 7.5], 256); // [2, 256] (guidance scale 8.5 in the LCM pipeline)
 * ```
 */
import { checkFinite, tf, ValidationError } from '@consistent-avatar/core';
import { timestepEmbedding } from '../models/embeddings.js';

/**
 * The embedding of w (see the file comment).
 * @example
 * ```ts
 * guidanceScaleEmbedding([3.5], 16).shape; // [1, 16]
 * ```
 * @param w - guidance weights, one per batch item (`[B]` numbers or a rank-1 tensor).
 * @param dim - embedding size (the UNet's `time_cond_proj_dim`), ≥ 4.
 * @returns `[B, dim]`.
 */
export function guidanceScaleEmbedding(w: readonly number[] | tf.Tensor1D, dim: number): tf.Tensor2D {
  const fn = 'guidanceScaleEmbedding';
  if (!Number.isInteger(dim) || dim < 4) throw new ValidationError(fn, 'dim', 'an integer ≥ 4', dim);
  if (w instanceof tf.Tensor) {
    if (w.rank !== 1) throw new ValidationError(fn, 'w', 'a rank-1 tensor [B]', w);
  } else if (!Array.isArray(w) || w.length === 0 || w.some((v) => typeof v !== 'number')) {
    throw new ValidationError(fn, 'w', 'a non-empty array of numbers', w);
  }
  checkFinite(fn, 'w', w); // the non-finite policy, for the tensor form too (it gave a NaN embedding)
  return tf.tidy(() => {
    const scaled = tf.mul(w instanceof tf.Tensor ? tf.cast(w, 'float32') : tf.tensor1d(w as number[], 'float32'), 1000); // [B]
    // get_timestep_embedding with downscale_freq_shift 1 = the same frequencies; [sin, cos] order (no flip).
    return timestepEmbedding(scaled, dim, { flipSinToCos: false, downscaleFreqShift: 1 });
  });
}
