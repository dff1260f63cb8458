/**
 * The library's one policy for non-finite numbers: a public function that takes numbers (an image, a pose, a
 * timestep, a sample tensor) rejects NaN and ±Infinity with a {@link ValidationError} naming the argument and the
 * first bad index, unless the function documents an `allowNonFinite` option and the caller sets it. A NaN never
 * passes silently into a metric, a render or a training step.
 *
 * @example
 * ```ts
 * import { checkFinite } from '@consistent-avatar/core';
 * checkFinite('projectPoints', 'points', new Float32Array([0, 1, NaN]));
 * // ValidationError: projectPoints: argument 'points' expected finite numbers (no NaN or ±Infinity), got NaN at index 2
 * ```
 */
import { tf } from './backend/tf.js';
import { ValidationError } from './errors.js';

/**
 * Options of functions that follow the non-finite policy.
 * @example
 * ```ts
 * const options: FiniteOptions = { allowNonFinite: true }; // e.g. masked values stored as NaN on purpose
 * ```
 */
export interface FiniteOptions {
  /** Accept NaN / ±Infinity in the inputs (the output then carries them). Default false. */
  allowNonFinite?: boolean;
}

const EXPECTED = 'finite numbers (no NaN or ±Infinity)';

/**
 * Index of the first NaN / ±Infinity in `values`, or -1.
 * @example
 * ```ts
 * firstNonFinite([1, Infinity]); // 1
 * ```
 */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0) return i; // NaN - NaN and Inf - Inf are NaN; finite - itself is 0
  }
  return -1;
}

/**
 * Throw a {@link ValidationError}(fn, argument, …) when `value` (a number, an array of numbers or a float tensor)
 * holds NaN or ±Infinity. Integer and bool tensors pass. A tensor is checked with one reduction and one scalar read.
 *
 * @param fn - the public function.
 * @param argument - the argument's name (`'sample'`, `'params.pose'`).
 * @param value - what to check.
 * @param options - `allowNonFinite: true` skips the check.
 * @example
 * ```ts
 * checkFinite('DDIMScheduler.step', 'sample', sampleTensor);
 * ```
 */
export function checkFinite(fn: string, argument: string, value: number | ArrayLike<number> | tf.Tensor, options: FiniteOptions = {}): void {
  if (options.allowNonFinite === true) return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError(fn, argument, EXPECTED, value);
    return;
  }
  if (value instanceof tf.Tensor) {
    if (value.dtype !== 'float32' || value.isDisposed) return;
    const ok = tf.tidy(() => tf.all(tf.isFinite(value)).dataSync()[0]) === 1;
    if (!ok) {
      const index = firstNonFinite(value.dataSync() as Float32Array);
      throw new ValidationError(fn, argument, EXPECTED, `${value.dataSync()[index]} at flat index ${index} of tensor[${value.shape.join(',')}]`);
    }
    return;
  }
  const index = firstNonFinite(value);
  if (index >= 0) throw new ValidationError(fn, argument, EXPECTED, `${value[index]} at index ${index}`);
}
