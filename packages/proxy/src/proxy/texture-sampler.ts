/**
 * Differentiable bilinear texture sampling in tfjs for fixed sample positions: the four texel indices and weights
 * of each sample are computed once in JavaScript ({@link bilinearPlan}, the same convention as the rasterizer's
 * `sampleTextureBilinear`: u right, v up, texel centres at (i + 0.5) / S, clamp to edge); the lookup is a
 * `tf.gather` whose gradient (an UnsortedSegmentSum, registered for wasm by core) flows back to the texture.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { bilinearPlan, sampleTexture } from '@consistent-avatar/proxy';
 * const plan = bilinearPlan(new Float32Array([0.5, 0.5]), 4, 4);          // one sample in the middle of a 4×4 texture
 * const texture = tf.variable(tf.ones([16, 3]));                          // [S*S, 3]
 * const rgb = sampleTexture(texture, plan);                               // [1, 3]
 * ```
 */
import { checkFinite, tf, ValidationError } from '@consistent-avatar/core';

/** Precomputed bilinear lookups: `[N*4]` texel indices (row-major, top row first) and `[N*4]` weights. */
export interface BilinearPlan {
  count: number;
  indices: Int32Array;
  weights: Float32Array;
}

/**
 * Bilinear lookup plan for UV samples.
 *
 * @param uvs - `[N*2]` texture coordinates (u, v) in [0, 1], v up.
 * @param width - texture width in texels.
 * @param height - texture height in texels.
 * @example
 * ```ts
 * const plan = bilinearPlan(new Float32Array([0.25, 0.75]), 64, 64); // plan.indices [4], plan.weights [4]
 * ```
 */
export function bilinearPlan(uvs: Float32Array, width: number, height: number): BilinearPlan {
  if (!(uvs instanceof Float32Array) || uvs.length % 2 !== 0) throw new ValidationError('bilinearPlan', 'uvs', 'a Float32Array of N×2 coordinates', uvs);
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) throw new ValidationError('bilinearPlan', 'width/height', 'positive integers', [width, height]);
  checkFinite('bilinearPlan', 'uvs', uvs); // a NaN coordinate gave NaN weights at texel 0
  const n = uvs.length / 2;
  const indices = new Int32Array(n * 4);
  const weights = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    let x = uvs[i * 2]! * width - 0.5;
    let y = (1 - uvs[i * 2 + 1]!) * height - 0.5;
    x = Math.min(width - 1, Math.max(0, x));
    y = Math.min(height - 1, Math.max(0, y));
    const x0 = Math.floor(x), y0 = Math.floor(y);
    const x1 = Math.min(width - 1, x0 + 1), y1 = Math.min(height - 1, y0 + 1);
    const fx = x - x0, fy = y - y0;
    indices[i * 4] = y0 * width + x0;
    indices[i * 4 + 1] = y0 * width + x1;
    indices[i * 4 + 2] = y1 * width + x0;
    indices[i * 4 + 3] = y1 * width + x1;
    weights[i * 4] = (1 - fx) * (1 - fy);
    weights[i * 4 + 1] = fx * (1 - fy);
    weights[i * 4 + 2] = (1 - fx) * fy;
    weights[i * 4 + 3] = fx * fy;
  }
  return { count: n, indices, weights };
}

/**
 * Sample a flattened texture at a plan's positions (differentiable with respect to `texture`).
 *
 * @param texture - `[H*W, C]` texels, row-major, top row first.
 * @param plan - from {@link bilinearPlan} (or a subset of one).
 * @returns `[N, C]`. A non-finite texel reaches the samples that read it, unchecked (once per fitting step; the
 *   optimiser's loss check stops the fit).
 * @example
 * ```ts
 * const rgb = sampleTexture(textureVariable, plan); // [N, 3], differentiable w.r.t. the texture
 * ```
 */
export function sampleTexture(texture: tf.Tensor2D, plan: BilinearPlan): tf.Tensor2D {
  if (!(texture instanceof tf.Tensor) || texture.rank !== 2) throw new ValidationError('sampleTexture', 'texture', 'a tensor [H*W, C]', texture);
  return tf.tidy(() => {
    const c = texture.shape[1];
    const idx = tf.tensor1d(plan.indices, 'int32'); // [N*4]
    const w = tf.tensor3d(plan.weights, [plan.count, 4, 1]); // [N, 4, 1]
    const corners = tf.gather(texture, idx).reshape([plan.count, 4, c]); // [N, 4, C]
    return tf.sum(tf.mul(corners, w), 1) as tf.Tensor2D; // [N, C]
  });
}
