/**
 * Training noise schedules: β_t for `linear`, `scaled_linear` and `squaredcos_cap_v2`, the zero-terminal-SNR rescale,
 * and ᾱ_t = ∏_{s≤t}(1 − β_s).
 *
 * diffusers keeps these as float32 torch tensors, and the scheduler parity fixtures (float32, values up to ~50 after
 * the first DDIM/LCM step at ᾱ ≈ 0.005) only match to 1e-5 when ᾱ is bit-identical. So every value here is rounded to
 * float32 exactly where torch rounds it:
 * - `torch.linspace(a, b, T, dtype=float32)` is reproduced element for element ({@link torchLinspaceFloat32}),
 * - `torch.cumprod` on float32 accumulates in float64 and rounds each output (CPU kernel), done likewise,
 * - `squaredcos_cap_v2` is computed in float64 (Python floats) and cast once, as `betas_for_alpha_bar` does.
 *
 * @example
 * ```ts
 * import { computeBetas, alphasCumprodFromBetas } from '@consistent-avatar/diffusion';
 * const betas = computeBetas({ num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012,
 *   beta_schedule: 'scaled_linear', trained_betas: null, rescale_betas_zero_snr: false });
 * const alphasCumprod = alphasCumprodFromBetas(betas); // Float32Array(1000), [0] = 0.99915
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';
import type { BaseSchedulerConfig } from './types.js';

const f32 = Math.fround;

/** The beta schedules this library implements. */
export const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` on the CPU, value for value.
 *
 * The kernel casts start/end to float32, computes `step = (end − start)/(steps − 1)` in float32, and fills the first
 * half from `start + step·i` and the second half from `end − step·(steps − 1 − i)`. Vectorised chunks of 8 (AVX2, two per
 * loop iteration) compute their first element with a fused multiply-add and the rest as `base + k·step`; the scalar
 * tail does not fuse.
 * A plain float64 linspace rounded to float32 differs in about 2/3 of the entries by one ulp.
 *
 * @param start - first value.
 * @param end - last value.
 * @param steps - number of values (≥ 1).
 * @returns float32 values (as a Float32Array).
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) {
    throw new ValidationError('torchLinspaceFloat32', 'steps', 'an integer ≥ 1', steps);
  }
  const out = new Float32Array(steps);
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  // Fused multiply-add: one rounding of the exact step·k ± base (the product of two float32 is exact in float64).
  const fusedBase = (idx: number): number => (idx < halfway ? f32(s + step * idx) : f32(e - step * (steps - idx - 1)));
  const vectorWidth = 8;
  let i = 0;
  // The vectorised loop handles two vectors per iteration while a full pair fits; the rest is the scalar tail.
  for (; i <= steps - 2 * vectorWidth; i += 2 * vectorWidth) {
    for (const start of [i, i + vectorWidth]) {
      const base = fusedBase(start);
      out[start] = base;
      for (let k = 1; k < vectorWidth; k++) out[start + k] = f32(base + f32(k * step));
    }
  }
  for (; i < steps; i++) {
    out[i] = i < halfway ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - i - 1)));
  }
  return out;
}

/** Glide's cosine ᾱ(t) = cos²((t + 0.008)/1.008 · π/2) (Nichol & Dhariwal 2021, Eq. 17). */
function cosineAlphaBar(t: number): number {
  return Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
}

/**
 * β_t = min(1 − ᾱ(t+1/T)/ᾱ(t/T), max_beta) for the cosine ᾱ (diffusers `betas_for_alpha_bar`, float64 then float32).
 *
 * @param numDiffusionTimesteps - T.
 * @param maxBeta - cap that avoids β = 1 at the end (0.999).
 */
export function betasForAlphaBar(numDiffusionTimesteps: number, maxBeta = 0.999): Float32Array {
  const betas = new Float32Array(numDiffusionTimesteps);
  for (let i = 0; i < numDiffusionTimesteps; i++) {
    const t1 = i / numDiffusionTimesteps;
    const t2 = (i + 1) / numDiffusionTimesteps;
    betas[i] = Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), maxBeta);
  }
  return betas;
}

/**
 * Rescale betas so the last timestep has zero SNR (Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps
 * are Flawed", Algorithm 1), in float32 like diffusers' `rescale_zero_terminal_snr`.
 *
 * 1. √ᾱ_t from the betas. 2. Shift so √ᾱ_{T−1} = 0. 3. Scale so √ᾱ_0 is unchanged. 4. Back to betas.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const sqrtAlphaBar = new Float32Array(n);
  let cumulative = 1;
  for (let i = 0; i < n; i++) {
    cumulative *= f32(1 - betas[i]!);
    sqrtAlphaBar[i] = Math.sqrt(f32(cumulative));
  }
  const first = sqrtAlphaBar[0]!;
  const last = sqrtAlphaBar[n - 1]!;
  const scale = f32(first / f32(first - last));
  const alphaBar = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const shifted = f32(f32(sqrtAlphaBar[i]! - last) * scale);
    alphaBar[i] = shifted * shifted;
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const alpha = i === 0 ? alphaBar[0]! : f32(alphaBar[i]! / alphaBar[i - 1]!);
    out[i] = 1 - alpha;
  }
  return out;
}

/** The fields of a scheduler config that define β. */
export type NoiseScheduleConfig = Pick<
  BaseSchedulerConfig,
  'num_train_timesteps' | 'beta_start' | 'beta_end' | 'beta_schedule' | 'trained_betas' | 'rescale_betas_zero_snr'
>;

/**
 * β_0 … β_{T−1} as float32 values, exactly as diffusers' schedulers build `self.betas`.
 *
 * @param config - the noise-schedule fields of a scheduler config.
 * @param fn - name of the calling function for error messages.
 * @throws ValidationError for an unknown `beta_schedule` or `trained_betas` of the wrong length.
 * @example
 * ```ts
 * import { computeBetas } from '@consistent-avatar/diffusion';
 * const betas = computeBetas({ num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02,
 *   beta_schedule: 'linear', trained_betas: null, rescale_betas_zero_snr: false });
 * console.log(betas[0], betas[999]); // 0.00009999999747378752 0.019999999552965164 (float32 of 1e-4, 0.02)
 * ```
 */
export function computeBetas(config: NoiseScheduleConfig, fn = 'computeBetas'): Float32Array {
  const T = config.num_train_timesteps;
  let betas: Float32Array;
  if (config.trained_betas !== null && config.trained_betas !== undefined) {
    if (!Array.isArray(config.trained_betas) || config.trained_betas.length !== T) {
      throw new ValidationError(fn, 'trained_betas', `an array of ${T} numbers (num_train_timesteps) or null`, config.trained_betas);
    }
    betas = Float32Array.from(config.trained_betas);
  } else if (config.beta_schedule === 'linear') {
    betas = torchLinspaceFloat32(config.beta_start, config.beta_end, T);
  } else if (config.beta_schedule === 'scaled_linear') {
    // Latent-diffusion schedule: linear in √β, squared (in float32).
    const roots = torchLinspaceFloat32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), T);
    betas = roots.map((r) => r * r);
  } else if (config.beta_schedule === 'squaredcos_cap_v2') {
    betas = betasForAlphaBar(T);
  } else {
    throw new ValidationError(fn, 'beta_schedule', `one of ${BETA_SCHEDULES.join(', ')}`, config.beta_schedule);
  }
  return config.rescale_betas_zero_snr ? rescaleZeroTerminalSnr(betas) : betas;
}

/**
 * ᾱ_t = ∏_{s≤t}(1 − β_s): float32 (1 − β), float64 running product, float32 outputs (torch's CPU `cumprod`).
 */
export function alphasCumprodFromBetas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]!);
    out[i] = product;
  }
  return out;
}
