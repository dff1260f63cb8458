/**
 * Parameter initialisers matching PyTorch's defaults, drawn from an explicit {@link Rng}.
 */
import { tf } from '../backend/tf.js';
import type { Rng } from '../random.js';

/** U(−bound, bound) as a tensor of `shape`. */
export function uniformTensor(rng: Rng, shape: number[], bound: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.uniform(n, -bound, bound), shape, 'float32');
}

/** N(mean, std²) as a tensor of `shape`. */
export function normalTensor(rng: Rng, shape: number[], std = 1, mean = 0): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.normal(n, mean, std), shape, 'float32');
}

/**
 * PyTorch's default for Linear / Conv weights, `kaiming_uniform_(a=√5)`, which is U(−1/√fanIn, 1/√fanIn); biases use
 * the same bound.
 */
export function torchDefaultBound(fanIn: number): number {
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}
