/**
 * Behaviour the diffusers fixture does not pin (it has no DDPM, η > 0, clipping or thresholding cases): properties
 * from the papers' equations, the LCM schedule numbers of diffusers' `LCMScheduler.set_timesteps` (`scheduling_lcm.py`;
 * docs/sources.md §schedulers), config round trips, bad-input errors
 * and tensor leaks. Expected values are computed here from the equations in float64, never by the code under test.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError, Rng, ValidationError, initBackend, tf, useBackend, type BackendName } from '@consistent-avatar/core';
import { DDPMScheduler } from './ddpm.js';
import { DDIMScheduler } from './ddim.js';
import { LCMScheduler, lcmBoundaryScalings } from './lcm.js';
import { readSchedulerConfig, schedulerFromConfig } from './registry.js';
import { computeBetas } from './beta-schedules.js';
import type { Scheduler } from './types.js';

const SHAPE = [2, 4, 4, 3]; // [B, H, W, C]
const SIZE = 96;

function randomTensor(seed: number, shape = SHAPE, scale = 1): tf.Tensor {
  return tf.tensor(new Rng(seed).normal(shape.reduce((a, b) => a * b, 1), 0, scale), shape, 'float32');
}

function maxAbs(a: tf.Tensor, b: tf.Tensor | ArrayLike<number>): number {
  const x = a.dataSync();
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** SD 1.5's scheduler/scheduler_config.json (runwayml/stable-diffusion-v1-5, for PNDM; docs/sources.md §schedulers). */
const SD15_SCHEDULER_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

beforeAll(async () => {
  await initBackend('cpu');
  await useBackend('cpu');
});

describe('LCM schedule (diffusers scheduling_lcm.py set_timesteps)', () => {
  it('n = 10 gives 999, 899, …, 99 and n = 4 gives 999, 759, 499, 259', () => {
    const s = new LCMScheduler();
    s.setTimesteps(10);
    expect([...s.timesteps]).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    s.setTimesteps(4);
    expect([...s.timesteps]).toEqual([999, 759, 499, 259]);
  });

  it('the pre-#5836 rule gives 999, 759, 519, 279 for n = 4 and agrees for n = 10', () => {
    const s = new LCMScheduler();
    s.setTimesteps(4, { legacySchedule: true });
    expect([...s.timesteps]).toEqual([999, 759, 519, 279]);
    s.setTimesteps(10, { legacySchedule: true });
    const legacy = [...s.timesteps];
    s.setTimesteps(10);
    expect(legacy).toEqual([...s.timesteps]);
  });

  it('steps_offset and set_alpha_to_one do not change LCM sampling', () => {
    const a = new LCMScheduler();
    const b = LCMScheduler.fromConfig(SD15_SCHEDULER_CONFIG);
    for (const s of [a, b]) s.setTimesteps(4);
    expect([...b.timesteps]).toEqual([...a.timesteps]);
    const x = randomTensor(1);
    const eps = randomTensor(2);
    const noise = randomTensor(3);
    for (const t of a.timesteps) {
      const ra = a.step(eps, t, x, { noise });
      const rb = b.step(eps, t, x, { noise });
      expect(maxAbs(ra.prevSample, rb.prevSample)).toBe(0);
      tf.dispose([ra.prevSample, ra.denoised, rb.prevSample, rb.denoised]);
    }
    tf.dispose([x, eps, noise]);
  });

  it('custom timesteps: used as given; strength keeps their tail; the last step returns denoised', () => {
    const s = new LCMScheduler();
    s.setTimesteps(null, { timesteps: [999, 499, 259] });
    expect([...s.timesteps]).toEqual([999, 499, 259]);
    s.setTimesteps(null, { timesteps: [999, 499, 259, 0], strength: 0.5 });
    expect([...s.timesteps]).toEqual([259, 0]);
    const x = randomTensor(4);
    const eps = randomTensor(5);
    const first = s.step(eps, 259, x, { rng: new Rng(9) });
    // At t = 0, c_skip = 1 and c_out = 0: denoised is the sample itself, and no noise is added after the last step.
    const last = s.step(eps, 0, first.prevSample);
    expect(maxAbs(last.denoised, first.prevSample)).toBe(0);
    expect(maxAbs(last.prevSample, first.prevSample)).toBe(0);
    tf.dispose([x, eps, first.prevSample, first.denoised, last.prevSample, last.denoised]);
  });

  it('boundary scalings: c_skip(0) = 1, c_out(0) = 0; at t ≥ 99 c_skip < 3e-6 and c_out > 1 − 2e-6', () => {
    expect(lcmBoundaryScalings(0)).toEqual([1, 0]);
    const [skip, out] = lcmBoundaryScalings(99);
    expect(skip).toBeLessThan(3e-6); // 0.25 / (990² + 0.25)
    expect(out).toBeGreaterThan(1 - 2e-6);
    // With s = 1 the boundary condition is visibly mixed: t = 1 → c_skip = 0.25/1.25 = 0.2.
    expect(lcmBoundaryScalings(1, 1)[0]).toBeCloseTo(0.2, 12);
  });

  it('noise from an Rng equals the same draws passed as a tensor', () => {
    const s = new LCMScheduler();
    s.setTimesteps(2);
    const x = randomTensor(6);
    const eps = randomTensor(7);
    const fromRng = s.step(eps, 999, x, { rng: new Rng(42) });
    s.setTimesteps(2);
    const z = tf.tensor(new Rng(42).normal(SIZE), SHAPE);
    const fromTensor = s.step(eps, 999, x, { noise: z });
    expect(maxAbs(fromRng.prevSample, fromTensor.prevSample)).toBe(0);
    tf.dispose([x, eps, z, fromRng.prevSample, fromRng.denoised, fromTensor.prevSample, fromTensor.denoised]);
  });

  it('bad input errors', () => {
    const s = new LCMScheduler();
    expect(() => s.setTimesteps(51)).toThrow(ValidationError); // n > original_inference_steps
    expect(() => s.setTimesteps(51)).toThrow(/LCMScheduler.setTimesteps: argument 'numInferenceSteps'/);
    expect(() => s.setTimesteps(30, { strength: 0.5 })).toThrow(/grid points/); // 25 grid points
    expect(() => s.setTimesteps(4, { strength: 0 })).toThrow(/strength/);
    expect(() => s.setTimesteps(4, { strength: 1.01 })).toThrow(/strength/);
    expect(() => s.setTimesteps(null, { timesteps: [259, 499] })).toThrow(/descending/);
    expect(() => s.setTimesteps(null, { timesteps: [1000, 499] })).toThrow(/below num_train_timesteps/);
    expect(() => s.setTimesteps(4, { timesteps: [999] })).toThrow(/null when custom timesteps/);
    expect(() => new LCMScheduler({ original_inference_steps: 2000 })).toThrow(/original_inference_steps/);

    const x = randomTensor(8);
    const eps = randomTensor(9);
    expect(() => s.step(eps, 999, x, { rng: new Rng(0) })).toThrow(/setTimesteps\(n\) to have been called/);
    s.setTimesteps(4);
    expect(() => s.step(eps, 999, x)).toThrow(/noise tensor or options.rng/); // stochastic step without noise
    const wrong = tf.zeros([2, 4, 4, 4]);
    expect(() => s.step(eps, 999, x, { noise: wrong })).toThrow(/options.noise' expected a tensor of the sample's shape \[2, 4, 4, 3\]/);
    expect(() => s.step(wrong, 999, x, { rng: new Rng(0) })).toThrow(/modelOutput/);
    expect(() => s.step(eps, 500, x, { rng: new Rng(0) })).toThrow(/one of the scheduler's timesteps/);
    expect(() => s.step(eps, 999.5, x, { rng: new Rng(0) })).toThrow(/integer timestep/);
    expect(() => s.step(eps, 999, tf.zeros(SHAPE, 'int32'), { rng: new Rng(0) })).toThrow(/float32/);
    tf.dispose([x, eps, wrong]);
  });
});

describe('DDIM', () => {
  const sdConfig = { beta_schedule: 'scaled_linear' as const, beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 };

  it('η > 0 adds exactly σ_t·z with σ_t from Song et al. Eq. 16, and shrinks the ε direction to √(1 − ᾱ′ − σ²)', () => {
    const s = new DDIMScheduler(sdConfig);
    s.setTimesteps(10); // 901, 801, …
    const t = 501;
    const prevT = 401;
    const x = randomTensor(10);
    const eps = randomTensor(11);
    const z = randomTensor(12);
    const zero = tf.zerosLike(z);
    const eta = 0.7;
    const withNoise = s.step(eps, t, x, { eta, noise: z });
    const withoutNoise = s.step(eps, t, x, { eta, noise: zero });
    const deterministic = s.step(eps, t, x, { eta: 0 });
    const a = s.alphasCumprod[t]!;
    const ap = s.alphasCumprod[prevT]!;
    const sigma = eta * Math.sqrt(((1 - ap) / (1 - a)) * (1 - a / ap));
    const noiseTerm = tf.sub(withNoise.prevSample, withoutNoise.prevSample);
    expect(maxAbs(noiseTerm, tf.mul(z, sigma))).toBeLessThan(2e-6); // O(1) values, float32
    // Difference to η = 0 without noise: (√(1−ᾱ′−σ²) − √(1−ᾱ′))·ε̂.
    const directionChange = tf.sub(withoutNoise.prevSample, deterministic.prevSample);
    const expected = tf.mul(eps, Math.sqrt(1 - ap - sigma * sigma) - Math.sqrt(1 - ap));
    expect(maxAbs(directionChange, expected)).toBeLessThan(2e-6);
    tf.dispose([x, eps, z, zero, noiseTerm, directionChange, expected, withNoise.prevSample, withNoise.denoised, withoutNoise.prevSample, withoutNoise.denoised, deterministic.prevSample, deterministic.denoised]);
  });

  it('x̂0 is recovered exactly when the model predicts the true ε, v or x0 (all three parameterisations)', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample'] as const) {
      const s = new DDIMScheduler({ ...sdConfig, prediction_type: prediction });
      s.setTimesteps(20);
      const x0 = randomTensor(13);
      const eps = randomTensor(14);
      const t = 501;
      const xt = s.addNoise(x0, eps, t);
      const target = prediction === 'epsilon' ? eps.clone() : prediction === 'v_prediction' ? s.getVelocity(x0, eps, t) : x0.clone();
      const { prevSample, denoised } = s.step(target, t, xt);
      expect(maxAbs(denoised, x0), prediction).toBeLessThan(1e-5);
      // Deterministic DDIM from the true x0 and ε lands on q(x_t' | x0) with the same ε: √ᾱ′x0 + √(1−ᾱ′)ε.
      const onTrajectory = s.addNoise(x0, eps, t - 50);
      expect(maxAbs(prevSample, onTrajectory), prediction).toBeLessThan(1e-5);
      tf.dispose([x0, eps, xt, target, prevSample, denoised, onTrajectory]);
    }
  });

  it('clip_sample bounds x̂0 to ±clip_sample_range', () => {
    const s = new DDIMScheduler({ clip_sample: true, clip_sample_range: 0.5 });
    s.setTimesteps(10);
    const x = randomTensor(15, SHAPE, 3);
    const eps = randomTensor(16);
    const { prevSample, denoised } = s.step(eps, 900, x);
    const values = denoised.dataSync();
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(0.5);
    expect(values.some((v) => Math.abs(v) === 0.5)).toBe(true);
    tf.dispose([x, eps, prevSample, denoised]);
  });

  it('errors: custom timesteps, step before setTimesteps, negative η, missing noise with η > 0', () => {
    const s = new DDIMScheduler(sdConfig);
    expect(() => s.setTimesteps(null, { timesteps: [999, 500] })).toThrow(/DDIMScheduler.setTimesteps: argument 'options.timesteps'/);
    const x = randomTensor(17);
    expect(() => s.step(x, 981, x)).toThrow(/setTimesteps/);
    s.setTimesteps(50);
    expect(() => s.step(x, 981, x, { eta: -1 })).toThrow(/eta/);
    expect(() => s.step(x, 981, x, { eta: 0.5 })).toThrow(/noise tensor or options.rng/);
    expect(() => new DDIMScheduler({ steps_offset: 1, timestep_spacing: 'leading' }).setTimesteps(1000)).toThrow(/steps_offset/);
    x.dispose();
  });
});

describe('DDPM', () => {
  /** Ho et al. Eq. 7: μ̃ = √ᾱ′·β/(1−ᾱ)·x0 + √α·(1−ᾱ′)/(1−ᾱ)·x_t, β̃ = (1−ᾱ′)/(1−ᾱ)·β (float64). */
  function posterior(s: DDPMScheduler, t: number, prevT: number) {
    const a = s.alphasCumprod[t]!;
    const ap = prevT >= 0 ? s.alphasCumprod[prevT]! : 1;
    const alpha = a / ap;
    const beta = 1 - alpha;
    return { c0: (Math.sqrt(ap) * beta) / (1 - a), c1: (Math.sqrt(alpha) * (1 - ap)) / (1 - a), betaTilde: ((1 - ap) / (1 - a)) * beta, beta };
  }

  it('the step is the posterior mean (Eq. 7) plus σ·z for each fixed variance type', () => {
    const t = 600;
    for (const varianceType of ['fixed_small', 'fixed_small_log', 'fixed_large'] as const) {
      const s = new DDPMScheduler({ variance_type: varianceType, clip_sample: false });
      const x0 = randomTensor(20);
      const eps = randomTensor(21);
      const z = randomTensor(22);
      const xt = s.addNoise(x0, eps, t);
      const { prevSample, denoised } = s.step(eps, t, xt, { noise: z });
      const p = posterior(s, t, t - 1); // before setTimesteps every timestep is used: t′ = t − 1
      const sigma = Math.sqrt(varianceType === 'fixed_large' ? p.beta : p.betaTilde);
      const expected = tf.tidy(() => tf.addN([tf.mul(x0, p.c0), tf.mul(xt, p.c1), tf.mul(z, sigma)]));
      expect(maxAbs(denoised, x0), varianceType).toBeLessThan(2e-5);
      expect(maxAbs(prevSample, expected), varianceType).toBeLessThan(1e-5);
      tf.dispose([x0, eps, z, xt, prevSample, denoised, expected]);
    }
  });

  it('learned_range interpolates log β̃ … log β with v = (out + 1)/2; learned takes σ² from the model', () => {
    const t = 300;
    const s = new DDPMScheduler({ variance_type: 'learned_range', clip_sample: false });
    s.setTimesteps(10); // t′ = t − 100
    const p = posterior(s, t, t - 100);
    const x = randomTensor(23);
    const eps = randomTensor(24);
    const ones = tf.onesLike(x);
    for (const [v, sigma2] of [
      [1, p.beta],
      [-1, p.betaTilde],
      [0, Math.sqrt(p.beta * p.betaTilde)],
    ] as const) {
      const output = tf.concat([eps, tf.fill(SHAPE, v)], 3); // [B, H, W, 2C]
      const noisy = s.step(output, t, x, { noise: ones });
      const clean = s.step(output, t, x, { noise: tf.zerosLike(x) });
      const sigma = tf.sub(noisy.prevSample, clean.prevSample);
      expect(maxAbs(sigma, new Float32Array(SIZE).fill(Math.sqrt(sigma2))), `v=${v}`).toBeLessThan(1e-6);
      tf.dispose([output, noisy.prevSample, noisy.denoised, clean.prevSample, clean.denoised, sigma]);
    }
    const learned = new DDPMScheduler({ variance_type: 'learned', clip_sample: false });
    const output = tf.concat([eps, tf.fill(SHAPE, 0.04)], 3);
    const noisy = learned.step(output, t, x, { noise: ones });
    const clean = learned.step(output, t, x, { noise: tf.zerosLike(x) });
    expect(maxAbs(tf.sub(noisy.prevSample, clean.prevSample), new Float32Array(SIZE).fill(0.2))).toBeLessThan(1e-6);
    expect(() => learned.step(eps, t, x, { noise: ones })).toThrow(/2·C = 6 channels/);
    tf.dispose([x, eps, ones, output, noisy.prevSample, noisy.denoised, clean.prevSample, clean.denoised]);
  });

  it('no noise is needed or added at t = 0; custom timesteps step to the next one', () => {
    const s = new DDPMScheduler({ clip_sample: false });
    s.setTimesteps(null, { timesteps: [700, 300, 0] });
    expect(s.previousTimestep(700)).toBe(300);
    expect(s.previousTimestep(0)).toBe(-1);
    const x = randomTensor(25);
    const eps = randomTensor(26);
    const { prevSample, denoised } = s.step(eps, 0, x); // no noise source needed
    const p = posterior(s, 0, -1); // ᾱ′ = 1: μ̃ = x̂0
    expect(p.c1).toBe(0);
    expect(maxAbs(prevSample, denoised)).toBeLessThan(1e-6);
    expect(() => s.step(eps, 300, x)).toThrow(/noise tensor or options.rng/);
    tf.dispose([x, eps, prevSample, denoised]);
  });

  it('dynamic thresholding: s = the 0.995 quantile of |x̂0| per item clamped to [1, max], x̂0 → clamp(x̂0, ±s)/s', () => {
    const item0 = new Rng(30).normal(48, 0, 0.8); // 0.995 quantile of |x| between 1 and 2.5: a real threshold
    const item1 = new Rng(31).normal(48, 0, 0.2); // quantile < 1 → s = 1 (plain clipping)
    const x0 = tf.tensor(new Float32Array([...item0, ...item1]), SHAPE);
    /** numpy / torch 'linear' quantile in float64. */
    const quantile = (item: Float32Array) => {
      const sorted = Array.from(item, Math.abs).sort((p, q) => p - q);
      const rank = 0.995 * (sorted.length - 1);
      const lo = Math.floor(rank);
      return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (rank - lo);
    };
    expect(quantile(item0)).toBeGreaterThan(1.05);
    expect(quantile(item1)).toBeLessThan(1);
    for (const maxValue of [2.5, 1.2]) {
      // 2.5: item 0 uses its quantile; 1.2: item 0 is capped at sample_max_value.
      const s = new DDPMScheduler({ thresholding: true, sample_max_value: maxValue, prediction_type: 'sample' });
      const { prevSample, denoised } = s.step(x0, 0, x0);
      const out = denoised.dataSync();
      for (const [b, item] of [item0, item1].entries()) {
        const threshold = Math.min(Math.max(quantile(item), 1), maxValue);
        item.forEach((v, i) => {
          expect(Math.abs(out[b * 48 + i]! - Math.min(Math.max(v, -threshold), threshold) / threshold)).toBeLessThan(1e-6);
        });
      }
      tf.dispose([prevSample, denoised]);
    }
    x0.dispose();
  });

  it('addNoise with one timestep per batch item equals per-item calls', () => {
    const s = new DDPMScheduler();
    const x0 = randomTensor(32);
    const eps = randomTensor(33);
    const both = s.addNoise(x0, eps, [10, 900]);
    const [first, second] = [s.addNoise(x0, eps, 10), s.addNoise(x0, eps, 900)];
    const expected = tf.concat([tf.slice(first, [0], [1]), tf.slice(second, [1], [1])]);
    expect(maxAbs(both, expected)).toBe(0);
    expect(() => s.addNoise(x0, eps, [1, 2, 3])).toThrow(/one timestep or 2/);
    expect(() => s.addNoise(x0, eps, 1000)).toThrow(/\[0, 1000\)/);
    expect(() => s.getVelocity(x0, tf.zeros([2, 4, 4, 4]), 5)).toThrow(/noise/);
    tf.dispose([x0, eps, both, first, second, expected]);
  });
});

describe('beta schedules', () => {
  const base = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, trained_betas: null, rescale_betas_zero_snr: false };

  it('linear ends at beta_start / beta_end; scaled_linear is linear in √β', () => {
    const linear = computeBetas({ ...base, beta_schedule: 'linear' });
    expect(linear[0]).toBe(Math.fround(0.0001));
    expect(linear[999]).toBe(Math.fround(0.02));
    const scaled = computeBetas({ ...base, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' });
    expect(Math.sqrt(scaled[500]!)).toBeCloseTo(Math.sqrt(0.00085) + (500 / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085)), 7);
  });

  it('squaredcos_cap_v2 telescopes to ᾱ_t = f(t+1)/f(0), f(t) = cos²((t/T + 0.008)/1.008·π/2)', () => {
    const s = new DDPMScheduler({ beta_schedule: 'squaredcos_cap_v2' });
    const f = (t: number) => Math.cos(((t / 1000 + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (const t of [0, 100, 500, 900, 980]) expect(s.alphasCumprod[t]).toBeCloseTo(f(t + 1) / f(0), 5);
    expect(Math.max(...s.betas)).toBeLessThanOrEqual(Math.fround(0.999));
  });

  it('rescale_betas_zero_snr: ᾱ_{T−1} = 0 and ᾱ_0 unchanged', () => {
    const plain = new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 });
    const zeroSnr = new DDIMScheduler({ beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, rescale_betas_zero_snr: true });
    expect(zeroSnr.alphasCumprod[999]).toBe(0);
    expect(zeroSnr.alphasCumprod[0]).toBeCloseTo(plain.alphasCumprod[0]!, 6);
    expect(zeroSnr.alphasCumprod[998]).toBeGreaterThan(0);
  });

  it('rejects an unknown beta_schedule, bad trained_betas and other invalid fields', () => {
    expect(() => new DDPMScheduler({ beta_schedule: 'sigmoid' as never })).toThrow(ValidationError);
    expect(() => new DDPMScheduler({ beta_schedule: 'cosine' as never })).toThrow(/DDPMScheduler: argument 'config.beta_schedule' expected one of 'linear', 'scaled_linear', 'squaredcos_cap_v2', got "cosine"/);
    expect(() => new DDPMScheduler({ trained_betas: [0.1, 0.2] })).toThrow(/trained_betas/);
    expect(() => new LCMScheduler({ prediction_type: 'x0' as never })).toThrow(/prediction_type/);
    expect(() => new DDIMScheduler({ num_train_timesteps: 0 })).toThrow(/num_train_timesteps/);
    expect(() => new DDIMScheduler({ timestep_spacing: 'uniform' as never })).toThrow(/timestep_spacing/);
    const betas = Array.from({ length: 10 }, (_, i) => 0.01 * (i + 1));
    expect(new DDPMScheduler({ num_train_timesteps: 10, trained_betas: betas }).betas[9]).toBe(Math.fround(0.1));
  });
});

describe('config JSON', () => {
  it('every scheduler round-trips through JSON text with diffusers field names', () => {
    const schedulers: Scheduler[] = [
      new DDPMScheduler({ variance_type: 'fixed_large', beta_schedule: 'squaredcos_cap_v2' }),
      new DDIMScheduler({ timestep_spacing: 'trailing', rescale_betas_zero_snr: true, prediction_type: 'v_prediction' }),
      new LCMScheduler({ original_inference_steps: 25, timestep_scaling: 5 }),
    ];
    for (const s of schedulers) {
      const json = s.toJSON();
      expect(json._class_name).toBe(s.className);
      expect(Object.keys(json)).toContain('num_train_timesteps');
      const again = schedulerFromConfig(JSON.stringify(json));
      expect(again.className).toBe(s.className);
      expect(again.toJSON()).toEqual(json);
      expect(Array.from(again.alphasCumprod)).toEqual(Array.from(s.alphasCumprod));
    }
    expect(new LCMScheduler().toJSON()).toEqual({
      _class_name: 'LCMScheduler',
      num_train_timesteps: 1000,
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      trained_betas: null,
      original_inference_steps: 50,
      clip_sample: false,
      clip_sample_range: 1.0,
      set_alpha_to_one: true,
      steps_offset: 0,
      prediction_type: 'epsilon',
      thresholding: false,
      dynamic_thresholding_ratio: 0.995,
      sample_max_value: 1.0,
      timestep_spacing: 'leading',
      timestep_scaling: 10.0,
      rescale_betas_zero_snr: false,
    });
  });

  it('reads an SD 1.5 scheduler_config.json from disk as DDIM or LCM (unknown fields ignored)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-sched-'));
    const path = join(dir, 'scheduler_config.json');
    writeFileSync(path, JSON.stringify(SD15_SCHEDULER_CONFIG));
    const ddim = readSchedulerConfig(path, { className: 'DDIMScheduler' });
    ddim.setTimesteps(50);
    expect(ddim.timesteps[0]).toBe(981);
    expect(ddim.config.set_alpha_to_one).toBe(false);
    expect(ddim.toJSON()).not.toHaveProperty('skip_prk_steps');
    const lcm = readSchedulerConfig(path, { className: 'LCMScheduler' });
    expect(lcm.config.steps_offset).toBe(1);
    expect(() => readSchedulerConfig(path)).toThrow(/_class_name' expected one of DDPMScheduler, DDIMScheduler, LCMScheduler, got "PNDMScheduler"/);
    writeFileSync(path, '{"_class_name": "DDIMScheduler",');
    expect(() => readSchedulerConfig(path)).toThrow(FormatError);
    expect(() => readSchedulerConfig(join(dir, 'missing.json'))).toThrow(FormatError);
    expect(() => schedulerFromConfig('[1, 2]')).toThrow(ValidationError);
  });
});

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`no tensor leaks over repeated steps [${backend}]`, () => {
    beforeAll(async () => {
      await initBackend(backend);
      await useBackend(backend);
    });

    it('DDPM (learned_range, thresholding), DDIM (η = 1, rng), LCM (rng), addNoise, getVelocity, scaleModelInput', () => {
      const ddpm = new DDPMScheduler({ variance_type: 'learned_range', thresholding: true });
      ddpm.setTimesteps(20);
      const ddim = new DDIMScheduler();
      ddim.setTimesteps(20);
      const lcm = new LCMScheduler();
      const rng = new Rng(5);
      const x = randomTensor(40);
      const eps = randomTensor(41);
      const doubled = tf.concat([eps, eps], 3);
      const run = () => {
        lcm.setTimesteps(4);
        const outputs: tf.Tensor[] = [];
        for (const t of [ddpm.timesteps[0]!, ddpm.timesteps[19]!]) {
          const r = ddpm.step(doubled, t, x, { rng });
          outputs.push(r.prevSample, r.denoised);
        }
        const d = ddim.step(eps, ddim.timesteps[3]!, x, { eta: 1, rng });
        outputs.push(d.prevSample, d.denoised);
        for (const t of lcm.timesteps) {
          const r = lcm.step(eps, t, x, { rng });
          outputs.push(r.prevSample, r.denoised);
        }
        outputs.push(ddpm.addNoise(x, eps, [3, 700]), ddim.getVelocity(x, eps, 400), lcm.scaleModelInput(x, 999));
        tf.dispose(outputs);
      };
      run();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) run();
      expect(tf.memory().numTensors).toBe(before);
      // A failing step must not leak either.
      expect(() => lcm.step(eps, 999, x)).toThrow(ValidationError);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, eps, doubled]);
    });
  });
}
