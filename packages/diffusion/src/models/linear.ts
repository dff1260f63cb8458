/**
 * `y = x·Wᵀ + b` for an `nn.Linear`, computed as `x · transpose(W)` with a non-transposed matMul. Measured on
 * tfjs-wasm 4.22 (bench/unet.ts profile): BatchMatMul with `transposeB` runs ~7× slower than the same product with B
 * already transposed ([1024, 256] · [256, 1024]ᵀ: 1224 ms vs 179 ms under load), while transposing W costs one
 * pass over the weights. Numerically identical to `Linear.forward` up to summation order. (The same change belongs in
 * core's `Linear.forward`; this helper keeps the attention / feed-forward hot paths fast meanwhile.)
 *
 * @example
 * ```ts
 * import { nn, Rng, tf } from '@consistent-avatar/core';
 * import { linearForward } from '@consistent-avatar/diffusion';
 * const layer = new nn.Linear(8, 4, { rng: new Rng(0) });
 * linearForward(layer, tf.ones([2, 3, 8])).shape; // [2, 3, 4]
 * ```
 */
import { nn, tf, ValidationError } from '@consistent-avatar/core';

/**
 * `[..., in]` → `[..., out]` through `layer`'s weights.
 * @example
 * ```ts
 * linearForward(new nn.Linear(768, 320, { bias: false }), tf.zeros([1, 77, 768])).shape; // [1, 77, 320]
 * ```
 */
export function linearForward(layer: nn.Linear, x: tf.Tensor): tf.Tensor {
  if (!(x instanceof tf.Tensor) || x.shape[x.rank - 1] !== layer.inFeatures) {
    throw new ValidationError('linearForward', 'x', `a tensor whose last dimension is ${layer.inFeatures}`, x);
  }
  return tf.tidy(() => {
    const flat = x.reshape([-1, layer.inFeatures]) as tf.Tensor2D; // [N, in]
    const wT = tf.transpose(layer.weight as tf.Tensor2D); // [in, out]
    let y = tf.matMul(flat, wT); // [N, out]
    if (layer.bias) y = tf.add(y, layer.bias);
    return y.reshape([...x.shape.slice(0, -1), layer.outFeatures]);
  });
}
