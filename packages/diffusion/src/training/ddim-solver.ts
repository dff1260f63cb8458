/**
 * The DDIM solver of latent consistency distillation (diffusers `examples/consistency_distillation`, `DDIMSolver`;
 * Luo et al. 2023, "Latent Consistency Models", §4.2–4.3 "skipping-step" technique): the ODE solver Ψ runs on the
 * N-point grid t_i = (1..N)·(T/N) − 1 and one step goes from t_i to t_{i−1} (k = T/N training steps at once):
 *
 *   x_prev = √ᾱ_prev · x̂0 + √(1 − ᾱ_prev) · ε̂          (DDIM, η = 0; Song et al. 2021, Eq. 12)
 *
 * with ᾱ_prev = ᾱ[t_{i−1}] and ᾱ[0] for i = 0.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { DDPMScheduler, ddimSolverGrid, ddimSolverStep } from '@consistent-avatar/diffusion';
 * const grid = ddimSolverGrid(new DDPMScheduler().alphasCumprod, 50);
 * console.log(grid.timesteps.slice(0, 3), grid.timesteps[49]); // [19, 39, 59] 999
 * const xPrev = ddimSolverStep(grid, tf.zeros([2, 8, 8, 3]), tf.ones([2, 8, 8, 3]), [49, 0]); // [2, 8, 8, 3]
 * ```
 */
import { checkFinite, tf, ValidationError } from '@consistent-avatar/core';

/** The solver's tables. */
export interface DDIMSolverGrid {
  /** t_i = round((i+1)·⌊T/N⌋) − 1, ascending, length N. */
  timesteps: number[];
  /** ᾱ[t_i]. */
  alphaCumprod: number[];
  /** ᾱ[t_{i−1}] (ᾱ[0] for i = 0). */
  alphaCumprodPrev: number[];
  /** k = ⌊T/N⌋: how many training timesteps one solver step skips. */
  skip: number;
}

/**
 * Build the solver grid.
 * @example
 * ```ts
 * ddimSolverGrid(new DDPMScheduler().alphasCumprod, 10).timesteps; // [99, 199, …, 999]
 * ```
 * @param alphasCumprod - ᾱ over the T training timesteps (a scheduler's `alphasCumprod`).
 * @param numDdimTimesteps - N (50 in the LCM recipe).
 */
export function ddimSolverGrid(alphasCumprod: Float32Array | readonly number[], numDdimTimesteps = 50): DDIMSolverGrid {
  const fn = 'ddimSolverGrid';
  if (!(alphasCumprod instanceof Float32Array) && !Array.isArray(alphasCumprod)) throw new ValidationError(fn, 'alphasCumprod', 'a Float32Array or number[] of length T', alphasCumprod);
  checkFinite(fn, 'alphasCumprod', alphasCumprod);
  const T = alphasCumprod.length;
  if (!Number.isInteger(numDdimTimesteps) || numDdimTimesteps < 1 || numDdimTimesteps > T) {
    throw new ValidationError(fn, 'numDdimTimesteps', `an integer in [1, ${T}]`, numDdimTimesteps);
  }
  const skip = Math.floor(T / numDdimTimesteps);
  const timesteps = Array.from({ length: numDdimTimesteps }, (_, i) => (i + 1) * skip - 1);
  const alphaCumprod = timesteps.map((t) => alphasCumprod[t]!);
  const alphaCumprodPrev = [alphasCumprod[0]!, ...alphaCumprod.slice(0, -1)];
  return { timesteps, alphaCumprod, alphaCumprodPrev, skip };
}

/**
 * One DDIM step from grid index i to i − 1, per batch item.
 * @example
 * ```ts
 * const xPrev = ddimSolverStep(grid, x0Guided, epsGuided, [49, 12]); // batch of 2, from t = 999 and t = 259
 * ```
 * @param predX0 - x̂0 `[B, …]`.
 * @param predNoise - ε̂ `[B, …]` (same shape).
 * @param index - grid index i per batch item.
 * @returns x_prev `[B, …]`. NaN / ±Infinity in `predX0` or `predNoise` are carried to it, unchecked: this runs once
 *   per distillation step on the teacher's outputs, and the student's loss check (`NonFiniteError`) stops there.
 */
export function ddimSolverStep(grid: DDIMSolverGrid, predX0: tf.Tensor, predNoise: tf.Tensor, index: readonly number[]): tf.Tensor {
  const fn = 'ddimSolverStep';
  if (!(predX0 instanceof tf.Tensor) || !(predNoise instanceof tf.Tensor) || predX0.shape.join() !== predNoise.shape.join()) {
    throw new ValidationError(fn, 'predX0, predNoise', 'two tensors of the same shape [B, …]', [predX0, predNoise]);
  }
  const B = predX0.shape[0]!;
  if (!Array.isArray(index) || index.length !== B || index.some((i) => !Number.isInteger(i) || i < 0 || i >= grid.timesteps.length)) {
    throw new ValidationError(fn, 'index', `${B} grid indices in [0, ${grid.timesteps.length})`, index);
  }
  return tf.tidy(() => {
    const shape = [B, ...predX0.shape.slice(1).map(() => 1)]; // [B, 1, 1, 1]
    const prev = index.map((i) => grid.alphaCumprodPrev[i]!);
    const a = tf.tensor(prev.map((v) => Math.sqrt(v)), shape, 'float32');
    const s = tf.tensor(prev.map((v) => Math.sqrt(1 - v)), shape, 'float32');
    return tf.add(tf.mul(a, predX0), tf.mul(s, predNoise));
  });
}
