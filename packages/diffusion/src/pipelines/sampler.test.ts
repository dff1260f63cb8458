/**
 * The sampler on the tiny diffusers-fixture UNet and ControlNet (wasm): batched CFG equals the unbatched formula,
 * the SDXL hand-off base + refiner equals one full run, img2img noises at the first kept timestep, the ControlNet
 * keep schedule, LCM's guidance embedding (vs values from diffusers' formula in PyTorch), validation, no leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, tf, useBackend, ValidationError } from '@consistent-avatar/core';
import {
  ControlNetModel,
  DDIMScheduler,
  LCMScheduler,
  UNet2DConditionModel,
  attachIPAdapter,
  controlnetKeep,
  guidanceScaleEmbedding,
  sample,
  splitForDenoisingStart,
} from '../index.js';
import { maxAbsError, modelFixture, npyNhwc, npyTensor } from '../../test/models-fixtures.js';

const SD_DDIM = { beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, clip_sample: false, set_alpha_to_one: false, steps_offset: 1 } as const;

/** max |a − b| ≤ tol · max |b|. */
function expectClose(a: tf.Tensor, b: tf.Tensor, tol: number, label: string): void {
  const { err, ref } = maxAbsError(a, b);
  expect(err, `${label}: ${err} vs ${tol * ref}`).toBeLessThanOrEqual(tol * ref);
}

let unet: UNet2DConditionModel;
let controlnet: ControlNetModel;
let text: tf.Tensor;
let empty: tf.Tensor;
let cond: tf.Tensor4D;

beforeAll(async () => {
  await useBackend('wasm');
  unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
  controlnet = ControlNetModel.fromPretrained(modelFixture('controlnet'));
  text = npyTensor('controlnet/in_encoder_hidden_states.npy').slice([0, 0, 0], [1, 7, 32]);
  empty = tf.zeros([1, 7, 32]);
  cond = npyNhwc('controlnet/in_controlnet_cond.npy').slice([0, 0, 0, 0], [1, 64, 64, 3]);
});

describe('sample()', () => {
  it('batched classifier-free guidance equals ε_u + g·(ε_c − ε_u) from separate UNet calls', () => {
    const latents = tf.tensor(new Rng(1).normal(16 * 16 * 4), [1, 16, 16, 4]) as tf.Tensor4D;
    const seen: tf.Tensor4D[] = [];
    const out = sample({ unet, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 3, latents, encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 5, callback: (_i, _t, x) => seen.push(x.clone()) });
    const ref = new DDIMScheduler(SD_DDIM);
    ref.setTimesteps(3);
    let x = latents.clone();
    ref.timesteps.forEach((t, i) => {
      const next = tf.tidy(() => {
        const u = unet.forward(x, t, empty);
        const c = unet.forward(x, t, text);
        const eps = tf.add(u, tf.mul(tf.sub(c, u), 5));
        const { prevSample, denoised } = ref.step(eps, t, x);
        denoised.dispose();
        return prevSample as tf.Tensor4D;
      });
      x.dispose();
      x = next;
      expectClose(seen[i]!, x, 1e-4, `step ${i}`);
    });
    expectClose(out, x, 1e-4, 'final');
    tf.dispose([latents, x, out, ...seen]);
  });

  it('SDXL hand-off: base with denoisingEnd then refiner with denoisingStart (no re-noising) = one full run', () => {
    const latents = tf.tensor(new Rng(2).normal(16 * 16 * 4), [1, 16, 16, 4]) as tf.Tensor4D;
    const common = { unet, numInferenceSteps: 10, encoderHiddenStates: text };
    const full = sample({ ...common, scheduler: new DDIMScheduler(SD_DDIM), latents });
    const baseSteps: number[] = [];
    const refinerSteps: number[] = [];
    const handed = sample({ ...common, scheduler: new DDIMScheduler(SD_DDIM), latents, denoisingEnd: 0.7, callback: (_i, t) => baseSteps.push(t) });
    const refined = sample({ ...common, scheduler: new DDIMScheduler(SD_DDIM), initLatents: handed, denoisingStart: 0.7, callback: (_i, t) => refinerSteps.push(t) });
    const s = new DDIMScheduler(SD_DDIM);
    s.setTimesteps(10);
    expect([...baseSteps, ...refinerSteps]).toEqual([...s.timesteps]);
    expect(refinerSteps).toEqual(splitForDenoisingStart(s.timesteps, 0.7, 1000).timesteps);
    expect(Math.min(...baseSteps)).toBeGreaterThanOrEqual(300);
    expectClose(refined, full, 1e-5, 'hand-off vs full');
    tf.dispose([latents, full, handed, refined]);
  });

  it('img2img: strength keeps the last ⌊n·s⌋ steps and noises the clean latent at the first kept timestep', () => {
    const init = tf.tensor(new Rng(3).uniform(16 * 16 * 4, -1, 1), [1, 16, 16, 4]) as tf.Tensor4D;
    const noise = tf.tensor(new Rng(4).normal(16 * 16 * 4), [1, 16, 16, 4]) as tf.Tensor4D;
    const steps: number[] = [];
    let first: tf.Tensor4D | null = null;
    const out = sample({ unet, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 10, encoderHiddenStates: text, initLatents: init, strength: 0.5, noise, callback: (i, t, x) => {
      steps.push(t);
      if (i === 0) first = x.clone();
    } });
    expect(steps).toEqual([401, 301, 201, 101, 1]);
    const ref = new DDIMScheduler(SD_DDIM);
    ref.setTimesteps(10, { strength: 0.5 });
    const expected = tf.tidy(() => {
      const xt = ref.addNoise(init, noise, 401) as tf.Tensor4D;
      const r = ref.step(unet.forward(xt, 401, text), 401, xt);
      r.denoised.dispose();
      return r.prevSample;
    });
    expectClose(first!, expected, 1e-5, 'img2img first step');
    tf.dispose([init, noise, out, first!, expected]);
  });

  it('ControlNet with control_guidance_end: acts on the first half only; guess mode with CFG runs', () => {
    expect(controlnetKeep(4, 0, 0.5)).toEqual([1, 1, 0, 0]);
    expect(controlnetKeep(5, 0.2, 1)).toEqual([0, 1, 1, 1, 1]);
    const latents = tf.tensor(new Rng(5).normal(16 * 16 * 4), [1, 16, 16, 4]) as tf.Tensor4D;
    const run = (extra: object) => {
      const seen: tf.Tensor4D[] = [];
      const out = sample({ unet, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 4, latents, encoderHiddenStates: text, callback: (_i, _t, x) => seen.push(x.clone()), ...extra });
      return { out, seen };
    };
    const none = run({});
    const full = run({ controlnet, controlImage: cond, controlnetConditioningScale: 0.8 });
    const half = run({ controlnet, controlImage: cond, controlnetConditioningScale: 0.8, controlGuidanceEnd: 0.5 });
    expect(maxAbsError(full.seen[0]!, none.seen[0]!).err).toBeGreaterThan(1e-3);
    expectClose(half.seen[1]!, full.seen[1]!, 1e-6, 'first half identical');
    expect(maxAbsError(half.out, full.out).err).toBeGreaterThan(1e-4);
    const guess = sample({ unet, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 2, latents, encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 4, controlnet, controlImage: cond, guessMode: true });
    expect(guess.shape).toEqual([1, 16, 16, 4]);
    tf.dispose([latents, guess, none.out, full.out, half.out, ...none.seen, ...full.seen, ...half.seen]);
  });

  it('LCM: the guidance embedding matches diffusers (PyTorch) and feeds timestep_cond; no CFG batch', () => {
    // Reference: diffusers get_guidance_scale_embedding(w, 16) in PyTorch float32 for w = 7.5, 0.5, 3.0.
    const ref = [
      [-0.851236, 0.985901, -0.556074, 0.285096, 0.911514, -0.839542, 0.33904, 0.681639, -0.524783, 0.167331, 0.831133, 0.958499, 0.41127, -0.543295, -0.940772, 0.731689],
      [-0.467772, 0.815555, -0.989645, -0.226724, 0.524268, 0.640192, 0.185303, 0.049979, -0.883849, -0.578679, -0.143535, -0.973959, -0.851553, 0.768215, 0.982682, 0.99875],
      [0.21919, 0.532082, 0.760561, 0.98036, 0.168727, -0.855696, 0.899349, 0.29552, -0.975682, 0.846693, -0.649266, 0.197218, -0.985663, -0.517479, 0.437231, 0.955337],
    ];
    const emb = guidanceScaleEmbedding([7.5, 0.5, 3.0], 16);
    // sin / cos of arguments up to 7500 in float32: an argument rounding of ~7500·2⁻²⁴ ≈ 4.5e-4 bounds the error.
    const got = emb.arraySync() as number[][];
    got.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - ref[i]![j]!)).toBeLessThan(1e-3)));
    emb.dispose();
    const student = new UNet2DConditionModel({ ...unet.config, time_cond_proj_dim: 16 }, { seed: 4 });
    const latents = tf.tensor(new Rng(6).normal(16 * 16 * 4), [1, 16, 16, 4]) as tf.Tensor4D;
    const steps: number[] = [];
    const a = sample({ unet: student, scheduler: new LCMScheduler(), numInferenceSteps: 4, latents, encoderHiddenStates: text, guidanceScale: 8.5, rng: new Rng(1), callback: (_i, t) => steps.push(t) });
    const b = sample({ unet: student, scheduler: new LCMScheduler(), numInferenceSteps: 4, latents, encoderHiddenStates: text, guidanceScale: 2, rng: new Rng(1) });
    const c = sample({ unet: student, scheduler: new LCMScheduler(), numInferenceSteps: 4, latents, encoderHiddenStates: text, guidanceScale: 8.5, rng: new Rng(1) });
    expect(steps).toEqual([999, 759, 499, 259]);
    expect(maxAbsError(a, b).err).toBeGreaterThan(1e-4);
    expect(maxAbsError(a, c).err).toBe(0); // seeded
    tf.dispose([latents, a, b, c]);
    student.dispose();
  });

  it('concatInput: the image condition is concatenated to the UNet input channels at every step (CFG batch too)', () => {
    const wide = new UNet2DConditionModel({ ...unet.config, in_channels: 6 }, { seed: 4 }); // 4 latent + 2 condition channels
    const latents = tf.tensor(new Rng(2).normal(16 * 16 * 4), [1, 16, 16, 4]) as tf.Tensor4D;
    const extra = tf.tensor(new Rng(3).normal(16 * 16 * 2), [1, 16, 16, 2]) as tf.Tensor4D;
    const out = sample({ unet: wide, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 2, latents, concatInput: extra, encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 3 });
    const ref = new DDIMScheduler(SD_DDIM);
    ref.setTimesteps(2);
    let x = latents.clone();
    for (const t of ref.timesteps) {
      const next = tf.tidy(() => {
        const input = tf.concat([x, extra], 3) as tf.Tensor4D; // [1, 16, 16, 6]
        const u = wide.forward(input, t, empty);
        const c = wide.forward(input, t, text);
        const { prevSample } = ref.step(tf.add(u, tf.mul(tf.sub(c, u), 3)), t, x);
        return prevSample as tf.Tensor4D;
      });
      x.dispose();
      x = next;
    }
    expectClose(out, x, 1e-4, 'concatInput');
    const base = { unet: wide, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 2, latents, encoderHiddenStates: text };
    expect(() => sample({ ...base, concatInput: tf.zeros([1, 8, 8, 2]) as tf.Tensor4D })).toThrow(/options\.concatInput.*latents' batch and size/);
    expect(() => sample({ ...base, concatInput: tf.zeros([1, 16, 16, 3]) as tf.Tensor4D })).toThrow(/options\.concatInput.*2 channels/);
    tf.dispose([latents, extra, x, out]);
    wide.dispose();
  });

  it('validates its inputs with errors naming the argument', () => {
    const base = { unet, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 2, shape: [1, 16, 16, 4] as [number, number, number, number], encoderHiddenStates: text };
    expect(() => sample({ ...base, guidanceScale: 7 })).toThrow(/negativeEncoderHiddenStates/);
    expect(() => sample({ ...base, denoisingStart: 0.5 })).toThrow(/initLatents/);
    expect(() => sample({ ...base, controlnet })).toThrow(/controlImage/);
    expect(() => sample({ ...base, numInferenceSteps: 0 })).toThrow(ValidationError);
    expect(() => sample({ ...base, shape: [2, 16, 16, 4] })).toThrow(/encoderHiddenStates/);
    expect(() => sample({ ...base, guidanceScale: 7, negativeEncoderHiddenStates: tf.zeros([1, 3, 32]) })).toThrow(/negativeEncoderHiddenStates/);
  });

  it('numTensors is stable across repeated calls (CFG + ControlNet + IP tokens, and img2img)', () => {
    const tiny = new UNet2DConditionModel(unet.config, { seed: 9 });
    attachIPAdapter(tiny, { numTokens: 2, seed: 1 });
    const ip = tf.randomNormal([1, 2, 32], 0, 1, 'float32', 3);
    const init = tf.zeros([1, 16, 16, 4]) as tf.Tensor4D;
    const run = () => {
      tf.dispose(sample({ unet: tiny, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 2, shape: [1, 16, 16, 4], rng: new Rng(0), encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 3, ipTokens: [ip], controlnet, controlImage: cond }));
      tf.dispose(sample({ unet: tiny, scheduler: new DDIMScheduler(SD_DDIM), numInferenceSteps: 4, shape: [1, 16, 16, 4], rng: new Rng(0), encoderHiddenStates: text, initLatents: init, strength: 0.5 }));
    };
    run();
    const before = tf.memory().numTensors;
    run();
    run();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ip, init]);
    tiny.dispose();
  });
});
