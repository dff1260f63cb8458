/**
 * Gradient clipping by global norm, as PyTorch's `clip_grad_norm_` (coefficient maxNorm / (total + 1e-6), applied only
 * when it is below 1).
 *
 * @example
 * ```ts
 * import { clipGradNorm, tf } from '@consistent-avatar/core';
 * const { grads, totalNorm } = clipGradNorm({ w: tf.tensor([3, 4]) }, 1); // totalNorm 5, grads.w ≈ [0.6, 0.8]
 * ```
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';

/**
 * @param grads - gradients by name.
 * @param maxNorm - the largest allowed global L2 norm (> 0).
 * @returns clipped gradients (new tensors; the inputs are not disposed) and the norm before clipping.
 *
 * Non-finite gradients are carried, not checked here (this runs once per training step): `totalNorm` is then NaN or
 * Infinity and the gradients come back unscaled, so the optimiser's `applyGradients` stops with a `NonFiniteError`
 * naming the tensor, before any update.
 */
export function clipGradNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; totalNorm: number } {
  if (!(maxNorm > 0)) throw new ValidationError('clipGradNorm', 'maxNorm', 'a number > 0', maxNorm);
  const names = Object.keys(grads);
  const total = tf.tidy(() => tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]!))))));
  const totalNorm = names.length ? total.dataSync()[0]! : 0;
  total.dispose();
  const coef = maxNorm / (totalNorm + 1e-6);
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = coef < 1 ? tf.mul(grads[n]!, coef) : grads[n]!.clone();
  return { grads: out, totalNorm };
}
