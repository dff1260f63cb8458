/**
 * img2img strength and SDXL hand-off timesteps, against the numbers worked out by hand from the diffusers pipeline
 * rules (`get_timesteps` of `pipeline_stable_diffusion_img2img.py` and `pipeline_stable_diffusion_xl_img2img.py`;
 * docs/sources.md §schedulers), not from this code.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError, tf } from '@consistent-avatar/core';
import { DDIMScheduler } from './ddim.js';
import { LCMScheduler } from './lcm.js';
import { DDPMScheduler } from './ddpm.js';
import { denoisingCutoff, splitForDenoisingEnd, splitForDenoisingStart, strengthStartIndex, timestepsForStrength } from './handoff.js';
import { roundHalfEven, spacedTimesteps } from './timestep-spacing.js';

/** SD / SDXL schedule: "leading" spacing with steps_offset 1. */
const sdDdim = () =>
  new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 });

describe('SDXL ensemble-of-experts hand-off (40 steps, 0.8)', () => {
  // leading, 40 steps, offset 1: t_k = 25k + 1, k = 39 … 0. cutoff = round(1000 − 0.8·1000) = 200.
  // Base keeps t ≥ 200: k = 39 … 8 (32 steps, last 201). Refiner keeps t < 200: k = 7 … 0 (8 steps: 176 … 1).
  const scheduler = sdDdim();
  scheduler.setTimesteps(40);

  it('the 40-step schedule is 976, 951, …, 1', () => {
    expect(scheduler.timesteps.length).toBe(40);
    expect(scheduler.timesteps[0]).toBe(976);
    expect(scheduler.timesteps[39]).toBe(1);
  });

  it('base (denoising_end 0.8) runs 32 steps down to 201', () => {
    const base = splitForDenoisingEnd(scheduler.timesteps, 0.8, 1000);
    expect(base.cutoff).toBe(200);
    expect(base.numInferenceSteps).toBe(32);
    expect(base.timesteps[0]).toBe(976);
    expect(base.timesteps[31]).toBe(201);
    expect(base.beginIndex).toBe(0);
  });

  it('refiner (denoising_start 0.8) runs the remaining 8 steps 176 … 1 from index 32', () => {
    const refiner = splitForDenoisingStart(scheduler.timesteps, 0.8, 1000);
    expect(refiner.cutoff).toBe(200);
    expect(refiner.timesteps).toEqual([176, 151, 126, 101, 76, 51, 26, 1]);
    expect(refiner.numInferenceSteps).toBe(8);
    expect(refiner.beginIndex).toBe(32);
  });

  it('base + refiner cover the schedule exactly once for many fractions', () => {
    for (const f of [0.05, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95]) {
      const base = splitForDenoisingEnd(scheduler.timesteps, f, 1000);
      const refiner = splitForDenoisingStart(scheduler.timesteps, f, 1000);
      expect([...base.timesteps, ...refiner.timesteps]).toEqual([...scheduler.timesteps]);
    }
  });

  it('setBeginIndex hands a latent to LCM mid-schedule: steps continue from that index, the last adds no noise', () => {
    const lcm = new LCMScheduler();
    lcm.setTimesteps(4); // [999, 759, 499, 259]
    const refinerPart = splitForDenoisingStart(lcm.timesteps, 0.6, 1000); // cutoff round(1000 − 600) = 400: t < 400 → [259]
    expect(refinerPart.timesteps).toEqual([259]);
    lcm.setBeginIndex(2);
    expect(() => lcm.step(tf.zeros([1, 2]), 259, tf.zeros([1, 2]))).toThrow(/timestep 499 \(step 2/);
    lcm.setBeginIndex(refinerPart.beginIndex);
    const x = tf.ones([1, 2]);
    const { prevSample, denoised } = lcm.step(tf.zeros([1, 2]), 259, x); // last step: no noise source needed
    expect(Array.from(prevSample.dataSync())).toEqual(Array.from(denoised.dataSync()));
    tf.dispose([x, prevSample, denoised]);
  });

  it('second-order schedulers get one more refiner step when the count is even', () => {
    expect(splitForDenoisingStart(scheduler.timesteps, 0.8, 1000, 2).numInferenceSteps).toBe(9);
  });

  it('the cutoff uses Python round (half to even)', () => {
    expect(roundHalfEven(6.5)).toBe(6);
    expect(roundHalfEven(7.5)).toBe(8);
    expect(roundHalfEven(-0.5)).toBe(0);
    expect(roundHalfEven(-1.5)).toBe(-2);
    expect(denoisingCutoff(0.1875, 8)).toBe(6); // round(8 − 1.5) = round(6.5) = 6, Math.round would give 7
    expect(denoisingCutoff(0.8, 1000)).toBe(200);
  });

  it('rejects fractions outside (0, 1) and bad schedules', () => {
    expect(() => splitForDenoisingEnd(scheduler.timesteps, 1, 1000)).toThrow(ValidationError);
    expect(() => splitForDenoisingStart(scheduler.timesteps, 0, 1000)).toThrow(/fraction strictly between 0 and 1/);
    expect(() => splitForDenoisingStart([1.5], 0.5, 1000)).toThrow(ValidationError);
  });
});

describe('img2img strength', () => {
  it('DDIM 50 steps, strength 0.3 (SDXL refiner default): last 15 steps 281 … 1', () => {
    // init = int(50·0.3) = 15, t_start = 35; leading+1 schedule t_i = 981 − 20i → 981 − 700 = 281.
    const split = timestepsForStrength(sdDdim(), 50, 0.3);
    expect(split.numInferenceSteps).toBe(15);
    expect(split.timesteps[0]).toBe(281);
    expect(split.timesteps[14]).toBe(1);
  });

  it('int(n·strength) truncates the float64 product like Python', () => {
    expect(strengthStartIndex(100, 0.29)).toBe(72); // 100·0.29 = 28.999999999999996 → 28 kept
    expect(strengthStartIndex(10, 0.7)).toBe(3); // 7.000000000000001 → 7 kept
    expect(strengthStartIndex(4, 1)).toBe(0);
  });

  it('DDPM keeps ⌊T/n⌋ for the previous timestep after a strength cut', () => {
    const scheduler = new DDPMScheduler();
    timestepsForStrength(scheduler, 10, 0.5); // leading: 900 … 0 → keep 400, 300, 200, 100, 0
    expect([...scheduler.timesteps]).toEqual([400, 300, 200, 100, 0]);
    expect(scheduler.previousTimestep(400)).toBe(300);
  });

  it('LCM applies strength to its skipping-step grid (diffusers LCMScheduler.set_timesteps)', () => {
    // grid = (1 … int(50·0.5) = 25)·20 − 1 = 19 … 499; reversed; indices ⌊i·25/4⌋ = 0, 6, 12, 18 → 499, 379, 259, 139.
    const split = timestepsForStrength(new LCMScheduler(), 4, 0.5);
    expect(split.timesteps).toEqual([499, 379, 259, 139]);
  });

  it('rejects strength outside (0, 1]', () => {
    for (const bad of [0, -0.1, 1.5, Number.NaN]) {
      expect(() => timestepsForStrength(sdDdim(), 10, bad)).toThrow(ValidationError);
      expect(() => new LCMScheduler().setTimesteps(4, { strength: bad })).toThrow(/strength/);
    }
  });
});

describe('timestep spacings', () => {
  it('SD leading n = 50: 981, 961, …, 1; trailing 999 … 19; linspace 999, 979, 958, …', () => {
    const leading = spacedTimesteps('leading', 1000, 50, 1);
    expect(leading[0]).toBe(981);
    expect(leading[1]).toBe(961);
    expect(leading[49]).toBe(1);
    const trailing = spacedTimesteps('trailing', 1000, 50);
    expect(trailing[0]).toBe(999);
    expect(trailing[49]).toBe(19);
    expect(spacedTimesteps('linspace', 1000, 50).slice(0, 3)).toEqual([999, 979, 958]);
  });

  it('trailing rounds half to even like np.round (n = 16: 937.5 → 938 − 1, 812.5 → 812 − 1)', () => {
    const trailing = spacedTimesteps('trailing', 1000, 16);
    expect(trailing.slice(0, 4)).toEqual([999, 937, 874, 811]);
  });

  it('trailing always returns n values (numpy gives n + 1 for n = 61)', () => {
    const trailing = spacedTimesteps('trailing', 1000, 61);
    expect(trailing.length).toBe(61);
    expect(Math.min(...trailing)).toBeGreaterThanOrEqual(0);
  });

  it('rejects n outside [1, T]', () => {
    expect(() => spacedTimesteps('leading', 1000, 0)).toThrow(ValidationError);
    expect(() => spacedTimesteps('leading', 1000, 1001)).toThrow(/\[1, 1000\]/);
  });
});
