/**
 * Parameter initialisers matching PyTorch's defaults, drawn from an explicit {@link Rng}.
 *
 * @example
 * ```ts
 * import { nn, Rng } from '@consistent-avatar/core';
 * const w = nn.uniformTensor(new Rng(0), [4, 3], 0.5); // [4, 3] in (−0.5, 0.5)
 * ```
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import type { Rng } from '../random.js';

/**
 * Most elements of one parameter tensor (2^28 float32 = 1 GiB; SD 1.5's largest tensor has 1.3·10^7). A larger shape
 * (a config asking for huge layers) is refused before anything is allocated instead of overrunning the wasm heap.
 */
export const MAX_PARAMETER_ELEMENTS = 2 ** 28;

/** Element count of a parameter shape, checked against {@link MAX_PARAMETER_ELEMENTS}. */
function parameterSize(fn: string, shape: number[]): number {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ValidationError(fn, 'shape', 'an array of non-negative integers', shape);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_PARAMETER_ELEMENTS) {
    throw new ValidationError(fn, 'shape', `at most ${MAX_PARAMETER_ELEMENTS} elements (MAX_PARAMETER_ELEMENTS)`, `[${shape.join(', ')}] = ${n} elements`);
  }
  return n;
}

/** U(−bound, bound) as a tensor of `shape`. */
export function uniformTensor(rng: Rng, shape: number[], bound: number): tf.Tensor {
  const n = parameterSize('uniformTensor', shape);
  return tf.tensor(rng.uniform(n, -bound, bound), shape, 'float32');
}

/** N(mean, std²) as a tensor of `shape`. */
export function normalTensor(rng: Rng, shape: number[], std = 1, mean = 0): tf.Tensor {
  const n = parameterSize('normalTensor', shape);
  return tf.tensor(rng.normal(n, mean, std), shape, 'float32');
}

/**
 * PyTorch's default for Linear / Conv weights, `kaiming_uniform_(a=√5)`, which is U(−1/√fanIn, 1/√fanIn); biases use
 * the same bound.
 */
export function torchDefaultBound(fanIn: number): number {
  if (!Number.isInteger(fanIn) || fanIn < 0) throw new ValidationError('torchDefaultBound', 'fanIn', 'an integer ≥ 0', fanIn); // NaN gave 0
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}
