/**
 * Inference timestep spacings shared by DDPM and DDIM: `leading`, `trailing`, `linspace` (Lin et al. 2024, Table 2),
 * with the integer results diffusers gets from numpy (float64 arithmetic, `np.round` = round half to even).
 *
 * @example
 * ```ts
 * import { spacedTimesteps } from '@consistent-avatar/diffusion';
 * spacedTimesteps('leading', 1000, 4, 1);  // [751, 501, 251, 1]
 * spacedTimesteps('trailing', 1000, 4, 0); // [999, 749, 499, 249]
 * spacedTimesteps('linspace', 1000, 4, 0); // [999, 666, 333, 0]
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';
import type { TimestepSpacing } from './types.js';

/** The spacings implemented. */
export const TIMESTEP_SPACINGS = ['leading', 'trailing', 'linspace'] as const;

/** Round half to even, as numpy's `np.round` and Python 3's `round` do (`roundHalfEven(2.5) === 2`). */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Descending inference timesteps for `n` steps over `T` training steps.
 *
 * - `leading`: ratio = ⌊T/n⌋; (0, ratio, …, (n−1)·ratio) reversed, plus `stepsOffset` (SD: 981, 961, …, 1 for n = 50).
 * - `trailing`: round(T − i·T/n) − 1 for i = 0 … n−1 (999, 979, …, 19 for n = 50).
 * - `linspace`: round(linspace(0, T−1, n)) reversed (999, 979, 958, … for n = 50).
 *
 * Deviation: for `trailing`, diffusers' `np.arange(T, 0, −T/n)` returns n + 1 values for 62 of the n in 1…1000
 * (e.g. n = 61) because of float rounding, the last being −1. We always return exactly n values; they equal
 * diffusers' first n.
 *
 * @param spacing - `leading`, `trailing` or `linspace`.
 * @param numTrainTimesteps - T.
 * @param numInferenceSteps - n in [1, T].
 * @param stepsOffset - added to `leading` timesteps only.
 * @param fn - calling function for error messages.
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  numInferenceSteps: number,
  stepsOffset = 0,
  fn = 'spacedTimesteps',
): number[] {
  const T = numTrainTimesteps;
  const n = numInferenceSteps;
  if (!Number.isInteger(n) || n < 1 || n > T) {
    throw new ValidationError(fn, 'numInferenceSteps', `an integer in [1, ${T}] (num_train_timesteps)`, n);
  }
  const out: number[] = [];
  if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    for (let i = n - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
  } else if (spacing === 'trailing') {
    // np.arange(T, 0, -T/n): value_i = T + i·delta with delta = (T + step) − T, all in float64.
    const step = -T / n;
    const delta = T + step - T;
    for (let i = 0; i < n; i++) out.push(roundHalfEven(T + i * delta) - 1);
  } else if (spacing === 'linspace') {
    // np.linspace(0, T−1, n): value_i = i·((T−1)/(n−1)), the last value set to T−1 exactly.
    const values: number[] = [];
    if (n === 1) values.push(0);
    else {
      const step = (T - 1) / (n - 1);
      for (let i = 0; i < n; i++) values.push(i === n - 1 ? T - 1 : i * step);
    }
    for (let i = n - 1; i >= 0; i--) out.push(roundHalfEven(values[i]!));
  } else {
    throw new ValidationError(fn, 'timestep_spacing', `one of ${TIMESTEP_SPACINGS.join(', ')}`, spacing);
  }
  return out;
}
