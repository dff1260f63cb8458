/**
 * Layout conversion at the API boundary. Every network in this package computes in NHWC (`[B, H, W, C]`, tfjs's
 * native layout); PyTorch / diffusers tensors and the `.npy` fixtures are NCHW (`[B, C, H, W]`). Convert once on the
 * way in and once on the way out.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { nchwToNhwc, nhwcToNchw } from '@consistent-avatar/diffusion';
 * const latent = nchwToNhwc(tf.zeros([1, 4, 8, 8])); // [1, 8, 8, 4]
 * nhwcToNchw(latent).shape;                           // [1, 4, 8, 8]
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';

/**
 * `[B, C, H, W]` → `[B, H, W, C]`.
 * @example
 * ```ts
 * nchwToNhwc(tf.zeros([2, 4, 16, 16])).shape; // [2, 16, 16, 4]
 * ```
 */
export function nchwToNhwc(x: tf.Tensor): tf.Tensor4D {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new ValidationError('nchwToNhwc', 'x', 'a rank-4 tensor [B, C, H, W]', x);
  return tf.transpose(x as tf.Tensor4D, [0, 2, 3, 1]); // [B, H, W, C]
}

/**
 * `[B, H, W, C]` → `[B, C, H, W]`.
 * @example
 * ```ts
 * nhwcToNchw(tf.zeros([2, 16, 16, 4])).shape; // [2, 4, 16, 16]
 * ```
 */
export function nhwcToNchw(x: tf.Tensor): tf.Tensor4D {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) throw new ValidationError('nhwcToNchw', 'x', 'a rank-4 tensor [B, H, W, C]', x);
  return tf.transpose(x as tf.Tensor4D, [0, 3, 1, 2]); // [B, C, H, W]
}
