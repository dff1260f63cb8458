/**
 * Activations tfjs lacks, composed from its ops (all differentiable on every backend). Like the layers, they carry
 * NaN / ±Infinity elementwise and never check (see `layers.ts`).
 *
 * @example
 * ```ts
 * import { nn, tf } from '@consistent-avatar/core';
 * nn.gelu(tf.tensor([0, 1])).print(); // [0, 0.8413]
 * ```
 */
import { tf } from '../backend/tf.js';

/** SiLU / swish: x·σ(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)) as T);
}

/** GELU, exact (`0.5·x·(1 + erf(x/√2))`, PyTorch's default) or the tanh approximation. */
export function gelu<T extends tf.Tensor>(x: T, approximate: 'none' | 'tanh' = 'none'): T {
  return tf.tidy(() => {
    if (approximate === 'tanh') {
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner))) as T;
    }
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))) as T;
  });
}

/** CLIP's quick GELU: x·σ(1.702·x). */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(1.702, x))) as T);
}
