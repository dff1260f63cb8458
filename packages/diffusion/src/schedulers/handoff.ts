/**
 * Timestep bookkeeping of the diffusers pipelines around a scheduler: img2img `strength`
 * (`StableDiffusionImg2ImgPipeline.get_timesteps`) and the SDXL "ensemble of experts" hand-off — `denoising_end` on
 * the base model, `denoising_start` on the refiner (`pipeline_stable_diffusion_xl{,_img2img}.py`).
 *
 * The cutoff is `round(T − f·T)` with Python's `round` (half to even) on the float64 value; the base keeps the
 * timesteps ≥ cutoff, the refiner the ones < cutoff, so together they run the whole schedule once.
 *
 * @example
 * ```ts
 * import { DDIMScheduler, splitForDenoisingEnd, splitForDenoisingStart } from '@consistent-avatar/diffusion';
 * const scheduler = new DDIMScheduler({ steps_offset: 1 }); // SD/SDXL "leading" + offset 1
 * scheduler.setTimesteps(40);                                // [976, 951, …, 26, 1]
 * const base = splitForDenoisingEnd(scheduler.timesteps, 0.8, 1000);
 * const refiner = splitForDenoisingStart(scheduler.timesteps, 0.8, 1000);
 * console.log(base.cutoff, base.timesteps.length, refiner.timesteps[0], refiner.beginIndex); // 200 32 176 32
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';
import { roundHalfEven } from './timestep-spacing.js';
import type { Scheduler } from './types.js';

/** A piece of a schedule. */
export interface TimestepSplit {
  /** The timesteps to run (descending). */
  timesteps: number[];
  /** Their count. */
  numInferenceSteps: number;
  /** Index of the first kept timestep in the full schedule (pass to `scheduler.setBeginIndex`). */
  beginIndex: number;
  /** The discrete cutoff round(T − f·T) (hand-off splits only). */
  cutoff?: number;
}

function checkStrength(fn: string, strength: number): void {
  if (typeof strength !== 'number' || !(strength > 0 && strength <= 1)) {
    throw new ValidationError(fn, 'strength', 'a number in (0, 1]', strength);
  }
}

function checkFraction(fn: string, argument: string, fraction: number): void {
  // diffusers' denoising_value_valid: a float strictly between 0 and 1.
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    throw new ValidationError(fn, argument, 'a fraction strictly between 0 and 1', fraction);
  }
}

function checkTimesteps(fn: string, timesteps: readonly number[]): void {
  if (!Array.isArray(timesteps) || timesteps.some((t) => !Number.isInteger(t))) {
    throw new ValidationError(fn, 'timesteps', 'an array of integer timesteps', timesteps);
  }
}

/**
 * First index kept by img2img `strength`: init = min(⌊n·strength⌋, n), t_start = max(n − init, 0).
 *
 * @param numInferenceSteps - n.
 * @param strength - in (0, 1].
 * @param fn - calling function for error messages.
 */
export function strengthStartIndex(numInferenceSteps: number, strength: number, fn = 'strengthStartIndex'): number {
  checkStrength(fn, strength);
  const initTimestep = Math.min(Math.trunc(numInferenceSteps * strength), numInferenceSteps);
  return Math.max(numInferenceSteps - initTimestep, 0);
}

/**
 * Set `scheduler` up for img2img with `strength` and return the timesteps to run. The first one is where the
 * clean latent gets noised (`scheduler.addNoise(latent, noise, result.timesteps[0])`).
 *
 * DDPM / DDIM keep the last ⌊n·strength⌋ of their n-step schedule (the pipelines' `get_timesteps`); LCM builds its
 * skipping-step schedule over the first ⌊original_inference_steps·strength⌋ grid points (its own `set_timesteps`).
 *
 * @param scheduler - any {@link Scheduler}.
 * @param numInferenceSteps - n.
 * @param strength - in (0, 1]; 1 runs the full schedule.
 * @example
 * ```ts
 * import { DDIMScheduler, timestepsForStrength } from '@consistent-avatar/diffusion';
 * const split = timestepsForStrength(new DDIMScheduler({ steps_offset: 1 }), 50, 0.3);
 * console.log(split.numInferenceSteps, split.timesteps[0]); // 15 281 — noise the clean latent at t = 281
 * ```
 */
export function timestepsForStrength(scheduler: Scheduler, numInferenceSteps: number, strength: number): TimestepSplit {
  checkStrength('timestepsForStrength', strength);
  scheduler.setTimesteps(numInferenceSteps, { strength });
  const timesteps = [...scheduler.timesteps];
  return { timesteps, numInferenceSteps: timesteps.length, beginIndex: 0 };
}

/** The discrete cutoff timestep round(T − f·T) (Python `round`: half to even). */
export function denoisingCutoff(fraction: number, numTrainTimesteps: number): number {
  return roundHalfEven(numTrainTimesteps - fraction * numTrainTimesteps);
}

/**
 * The base model's part of an SDXL hand-off (`denoising_end = f`): the leading timesteps ≥ round(T − f·T).
 *
 * @param timesteps - the full schedule (descending).
 * @param fraction - f in (0, 1), e.g. 0.8.
 * @param numTrainTimesteps - T (1000).
 * @example
 * ```ts
 * // SD/SDXL 40-step "leading" schedule 976, 951, …, 1:
 * splitForDenoisingEnd(scheduler.timesteps, 0.8, 1000); // { timesteps: [976, …, 201], numInferenceSteps: 32, cutoff: 200 }
 * ```
 */
export function splitForDenoisingEnd(timesteps: readonly number[], fraction: number, numTrainTimesteps: number): TimestepSplit {
  const fn = 'splitForDenoisingEnd';
  checkTimesteps(fn, timesteps);
  checkFraction(fn, 'fraction', fraction);
  const cutoff = denoisingCutoff(fraction, numTrainTimesteps);
  const count = timesteps.filter((t) => t >= cutoff).length;
  return { timesteps: timesteps.slice(0, count), numInferenceSteps: count, beginIndex: 0, cutoff };
}

/**
 * The refiner's part of an SDXL hand-off (`denoising_start = f`): the trailing timesteps < round(T − f·T). The
 * handed-over latent is already noisy, so it is **not** re-noised. Second-order schedulers (`order` 2) get one more
 * step when the count is even, as diffusers does.
 *
 * @param timesteps - the full schedule (descending).
 * @param fraction - f in (0, 1), e.g. 0.8.
 * @param numTrainTimesteps - T (1000).
 * @param order - the scheduler's order (1 for DDPM / DDIM / LCM).
 * @example
 * ```ts
 * const refiner = splitForDenoisingStart(scheduler.timesteps, 0.8, 1000); // [176, 151, …, 1], beginIndex 32
 * scheduler.setBeginIndex(refiner.beginIndex); // then step through refiner.timesteps on the handed-over latent
 * ```
 */
export function splitForDenoisingStart(
  timesteps: readonly number[],
  fraction: number,
  numTrainTimesteps: number,
  order = 1,
): TimestepSplit {
  const fn = 'splitForDenoisingStart';
  checkTimesteps(fn, timesteps);
  checkFraction(fn, 'fraction', fraction);
  const cutoff = denoisingCutoff(fraction, numTrainTimesteps);
  let count = timesteps.filter((t) => t < cutoff).length;
  if (order === 2 && count % 2 === 0) count += 1;
  count = Math.min(count, timesteps.length);
  const beginIndex = timesteps.length - count;
  return { timesteps: timesteps.slice(beginIndex), numInferenceSteps: count, beginIndex, cutoff };
}
