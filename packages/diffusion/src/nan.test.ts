/**
 * Issue 19 (reliability), item 10 in diffusion: a NaN test per public numeric entry point. The forward process
 * (`addNoise`, `getVelocity`), the sampler's inputs, the ControlNet timestep, the guidance and timestep embeddings'
 * numbers and the solver grid reject NaN / ±Infinity naming the argument; `scaleModelInput`, `timestepEmbedding`'s
 * timesteps, `ddimSolverStep` and the network modules carry them (documented: they run once per step, behind an entry
 * that checks). `UNet2DConditionModel.forward` and `step` are in `reliability.test.ts` §10.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, initBackend, tf } from '@consistent-avatar/core';
import {
  Attention, AutoencoderKL, ControlNetModel, ImageProjection, ResnetBlock2D, TokenConditioner, DDIMScheduler, DDPMScheduler, LCMScheduler, UNet2DConditionModel, ddimSolverGrid, ddimSolverStep, guidanceScaleEmbedding,
  sample, timestepEmbedding,
} from './index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A two-level UNet with cross-attention (8² latents, 16-wide text tokens), seed 1. */
const tinyUnet = (): UNet2DConditionModel => new UNet2DConditionModel({
  sample_size: 8, in_channels: 4, out_channels: 4, block_out_channels: [32, 32], layers_per_block: 1,
  down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
  cross_attention_dim: 16, attention_head_dim: 8, norm_num_groups: 8,
} as never, { seed: 1 });
const EXPECTED = 'finite numbers \\(no NaN or ±Infinity\\)';
const nonFinite = (t: tf.Tensor): number => Array.from(t.dataSync()).filter((v) => !Number.isFinite(v)).length;
const poisoned = (value: number, at = 3): tf.Tensor4D => {
  const data = new Float32Array(2 * 2 * 2 * 4).fill(0.25);
  data[at] = value;
  return tf.tensor4d(data, [2, 2, 2, 4]); // [B, H, W, C]
};

describe('10. the forward process rejects non-finite samples and noise (x_t came out NaN)', () => {
  it('addNoise / getVelocity of DDPM, DDIM and LCM name themselves and the tensor; allowNonFinite carries', () => {
    const clean = poisoned(0.5);
    for (const scheduler of [new DDPMScheduler(), new DDIMScheduler(), new LCMScheduler()]) {
      const name = scheduler.constructor.name;
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const x = poisoned(bad);
        const before = tf.memory().numTensors;
        expect(() => scheduler.addNoise(x, clean, 10)).toThrow(new RegExp(`^${name}\\.addNoise: argument 'originalSamples' expected ${EXPECTED}, got "${bad} at flat index 3 of tensor\\[2,2,2,4\\]"$`));
        expect(() => scheduler.addNoise(clean, x, [10, 20])).toThrow(new RegExp(`${name}\\.addNoise: argument 'noise' expected finite`));
        expect(() => scheduler.getVelocity(x, clean, 10)).toThrow(new RegExp(`${name}\\.getVelocity: argument 'sample' expected finite`));
        expect(() => scheduler.getVelocity(clean, x, 10)).toThrow(new RegExp(`${name}\\.getVelocity: argument 'noise' expected finite`));
        expect(tf.memory().numTensors).toBe(before); // nothing allocated on the rejected path
        x.dispose();
      }
      const nan = poisoned(Number.NaN);
      const carried = scheduler.addNoise(nan, clean, 10, { allowNonFinite: true });
      expect(nonFinite(carried)).toBe(1); // opted out: the NaN reaches x_t, never hidden
      expect(() => scheduler.addNoise(clean, clean, 10, null as never)).toThrow(ValidationError);
      // scaleModelInput is the identity once per sampling step: it carries, and step() checks the same sample.
      const scaled = scheduler.scaleModelInput(nan, 10);
      expect(nonFinite(scaled)).toBe(1);
      tf.dispose([nan, carried, scaled]);
    }
    clean.dispose();
  });
});

describe('10. every scheduler\'s step rejects a non-finite sample or model output (DDIM is in reliability.test.ts)', () => {
  it('DDPMScheduler.step and LCMScheduler.step name themselves and the tensor', () => {
    const clean = poisoned(0.5);
    const noise = poisoned(0.1);
    for (const scheduler of [new DDPMScheduler(), new LCMScheduler()]) {
      scheduler.setTimesteps(4);
      const t = scheduler.timesteps[0]!;
      const name = scheduler.constructor.name;
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
        const x = poisoned(bad);
        expect(() => scheduler.step(clean, t, x, { noise })).toThrow(new RegExp(`^${name}\\.step: argument 'sample' expected ${EXPECTED}`));
        expect(() => scheduler.step(x, t, clean, { noise })).toThrow(new RegExp(`^${name}\\.step: argument 'modelOutput' expected finite`));
        x.dispose();
      }
    }
    tf.dispose([clean, noise]);
  });
});

describe('10. sampler inputs are checked once per call, before any step', () => {
  it('sample names options.latents / initLatents / noise (the denoiser form)', () => {
    let calls = 0;
    const denoiser = (x: tf.Tensor4D): tf.Tensor4D => {
      calls++;
      return tf.zerosLike(x);
    };
    const nan = poisoned(Number.NaN);
    const clean = poisoned(0.5);
    const before = tf.memory().numTensors;
    expect(() => sample({ denoiser, scheduler: new DDIMScheduler(), numInferenceSteps: 2, latents: nan })).toThrow(new RegExp(`^sample: argument 'options\\.latents' expected ${EXPECTED}`));
    expect(() => sample({ denoiser, scheduler: new DDIMScheduler(), numInferenceSteps: 2, initLatents: nan, strength: 0.5 })).toThrow(/sample: argument 'options\.initLatents' expected finite/);
    expect(() => sample({ denoiser, scheduler: new DDIMScheduler(), numInferenceSteps: 2, initLatents: clean, noise: nan, strength: 0.5 })).toThrow(/sample: argument 'options\.noise' expected finite/);
    expect(calls).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([nan, clean]);
  });

  it('the UNet form names the text tokens and the control image; ControlNetModel.forward names a NaN timestep', () => {
    const unet = tinyUnet();
    const controlnet = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [16, 32], seed: 3 });
    const text = tf.zeros([1, 3, 16]) as tf.Tensor3D;
    const nanText = tf.fill([1, 3, 16], Number.NaN) as tf.Tensor3D;
    const image = tf.zeros([1, 16, 16, 3]) as tf.Tensor4D;
    const infImage = tf.fill([1, 16, 16, 3], Number.POSITIVE_INFINITY) as tf.Tensor4D;
    const latents = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
    const run = (o: object): tf.Tensor4D => sample({ unet, scheduler: new DDIMScheduler(), numInferenceSteps: 1, latents, encoderHiddenStates: text, ...o } as never);
    const before = tf.memory().numTensors;
    expect(() => run({ encoderHiddenStates: nanText })).toThrow(/sample: argument 'options\.encoderHiddenStates' expected finite/);
    expect(() => run({ guidanceScale: 2, negativeEncoderHiddenStates: nanText })).toThrow(/sample: argument 'options\.negativeEncoderHiddenStates' expected finite/);
    expect(() => run({ controlnet, controlImage: infImage })).toThrow(/sample: argument 'options\.controlImage' expected finite .*Infinity/);
    expect(() => run({ controlnet, controlImage: [infImage] })).toThrow(/sample: argument 'options\.controlImage\[0\]' expected finite/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => controlnet.forward(latents, Number.NaN, text, image)).toThrow(/ControlNetModel\.forward: argument 'timestep' expected finite/);
    expect(() => controlnet.forward(latents, [Number.NEGATIVE_INFINITY], text, image)).toThrow(ValidationError);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([text, nanText, image, infImage, latents]);
    controlnet.dispose();
    unet.dispose();
  });
});

describe('10. embeddings and the distillation solver', () => {
  it('guidanceScaleEmbedding rejects a non-finite w in both forms; timestepEmbedding its numeric options', () => {
    expect(() => guidanceScaleEmbedding([1, Number.NaN], 8)).toThrow(new RegExp(`^guidanceScaleEmbedding: argument 'w' expected ${EXPECTED}, got "NaN at index 1"$`));
    const w = tf.tensor1d([Number.POSITIVE_INFINITY]);
    expect(() => guidanceScaleEmbedding(w, 8)).toThrow(/guidanceScaleEmbedding: argument 'w'.*Infinity at flat index 0/);
    const t = tf.tensor1d([0, Number.NaN]);
    expect(() => timestepEmbedding(t, 8, { scale: Number.NaN })).toThrow(/timestepEmbedding: argument 'options\.scale' expected finite/);
    expect(() => timestepEmbedding(t, 8, { maxPeriod: Number.POSITIVE_INFINITY })).toThrow(/'options\.maxPeriod'/);
    expect(() => timestepEmbedding(t, 8, { downscaleFreqShift: Number.NaN })).toThrow(/'options\.downscaleFreqShift'/);
    // The timesteps themselves are carried (the UNet and ControlNet check theirs first): row 1 is non-finite, row 0 not.
    const features = timestepEmbedding(t, 8); // [2, 8]
    const values = Array.from(features.dataSync());
    expect(values.slice(0, 8).every(Number.isFinite)).toBe(true);
    expect(values.slice(8).every((v) => Number.isNaN(v))).toBe(true);
    tf.dispose([w, t, features]);
  });

  it('ddimSolverGrid rejects non-finite ᾱ; ddimSolverStep carries a NaN prediction to its item only (documented)', () => {
    const alphas = Array.from({ length: 10 }, (_, i) => 1 - 0.05 * (i + 1));
    expect(() => ddimSolverGrid([...alphas.slice(0, 9), Number.NaN], 5)).toThrow(/ddimSolverGrid: argument 'alphasCumprod' expected finite .*NaN at index 9/);
    const grid = ddimSolverGrid(alphas, 5);
    const x0 = tf.tensor2d([[0.1, 0.2], [Number.NaN, 0.4]]); // [B = 2, 2]
    const eps = tf.zeros([2, 2]);
    const prev = ddimSolverStep(grid, x0, eps, [4, 4]);
    expect(Array.from(prev.dataSync()).map(Number.isFinite)).toEqual([true, true, false, true]);
    tf.dispose([x0, eps, prev]);
  });

  it('network modules carry a non-finite input to their output (AutoencoderKL.decode; see nn/layers.ts)', () => {
    const vae = new AutoencoderKL({ block_out_channels: [8, 16], norm_num_groups: 4, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] }, { seed: 3 });
    const batch = poisoned(Number.NaN);
    const latents = batch.slice([0, 0, 0, 0], [1, 2, 2, 4]); // [1, 2, 2, 4], NaN at channel 3 of pixel 0
    batch.dispose();
    const images = vae.decode(latents);
    expect(nonFinite(images)).toBeGreaterThan(0);
    tf.dispose([latents, images]);
    vae.dispose();
  });

  it('Attention carries a NaN key token to every query (softmax mixes tokens); ResnetBlock2D to its group', () => {
    const attention = new Attention({ queryDim: 8, heads: 2, dimHead: 4, seed: 1 });
    const tokens = tf.tensor3d(Float32Array.from({ length: 3 * 8 }, (_, i) => (i === 9 ? Number.NaN : 0.1 * (i % 5))), [1, 3, 8]); // token 1 poisoned
    const out = attention.forward(tokens, null, {}); // [1, 3, 8]
    expect(nonFinite(out)).toBe(3 * 8);
    const block = new ResnetBlock2D({ inChannels: 8, groups: 4, tembChannels: null, seed: 2 });
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 2 * 2 * 8 }, (_, i) => (i === 8 * 4 ? Number.NaN : 0.1)), [2, 2, 2, 8]); // item 1 poisoned
    const y = block.forward(x, null);
    const values = Array.from(y.dataSync());
    expect(values.slice(0, 32).every(Number.isFinite)).toBe(true); // item 0 untouched: GroupNorm's statistics are per item
    expect(values.slice(32).some(Number.isNaN)).toBe(true);
    tf.dispose([tokens, out, x, y]);
    attention.dispose();
    block.dispose();
  });
});

/** Item 0 of `t` ([2, …]) is finite, item 1 holds a non-finite value: the module carried NaN only to what depends on it. */
const carriedToItem1 = (t: tf.Tensor): void => {
  const values = t.dataSync();
  const half = values.length / 2;
  expect(Array.from(values.subarray(0, half)).every(Number.isFinite)).toBe(true);
  expect(Array.from(values.subarray(half)).some((v) => !Number.isFinite(v))).toBe(true);
};

describe('10. the composed network modules carry a NaN to the batch item it came from, and only there', () => {
  // GroupNorm statistics, attention and convolutions all stay inside one batch item, so a poisoned item 1 must leave
  // item 0 bit-finite: a module that hid the NaN (item 1 finite) or leaked it across the batch (item 0 NaN) fails.
  const nanInItem1 = (shape: [number, number, number, number]): tf.Tensor4D => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size).map((_, i) => 0.1 * ((i * 7) % 11) - 0.5);
    data[size / 2 + 5] = Number.NaN; // item 1
    return tf.tensor4d(data, shape);
  };

  it('UNet2DConditionModel.forward: the sample through DownBlock2D, CrossAttnDownBlock2D (Transformer2DModel), UNetMidBlock2DCrossAttn, UpBlock2D, CrossAttnUpBlock2D', () => {
    const unet = tinyUnet();
    const sampleNaN = nanInItem1([2, 8, 8, 4]);
    const text = tf.fill([2, 3, 16], 0.1) as tf.Tensor3D;
    const out = unet.forward(sampleNaN, 10, text); // [2, 8, 8, 4]
    carriedToItem1(out);
    // The text tokens reach the transformer blocks' cross-attention: a NaN token of item 1 is carried the same way.
    const textNaN = tf.tensor3d(Float32Array.from({ length: 2 * 3 * 16 }, (_, i) => (i === 3 * 16 + 2 ? Number.NaN : 0.1)), [2, 3, 16]);
    const clean = tf.fill([2, 8, 8, 4], 0.2) as tf.Tensor4D;
    const out2 = unet.forward(clean, 10, textNaN);
    carriedToItem1(out2);
    tf.dispose([sampleNaN, text, out, textNaN, clean, out2]);
    unet.dispose();
  });

  it('ControlNetModel.forward: a NaN control pixel through ControlNetConditioningEmbedding reaches every residual of its item only', () => {
    const unet = tinyUnet();
    const controlnet = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [16, 32], seed: 3 });
    const latents = tf.fill([2, 8, 8, 4], 0.2) as tf.Tensor4D;
    const text = tf.fill([2, 3, 16], 0.1) as tf.Tensor3D;
    const image = nanInItem1([2, 16, 16, 3]);
    const out = controlnet.forward(latents, 10, text, image);
    // The zero convolutions of a fresh ControlNet multiply by 0, and 0 · NaN = NaN: the residuals still carry it.
    for (const residual of [...out.downBlockResSamples, out.midBlockResSample]) carriedToItem1(residual);
    tf.dispose([latents, text, image, ...out.downBlockResSamples, out.midBlockResSample]);
    controlnet.dispose();
    unet.dispose();
  });

  it('AutoencoderKL.encode: a NaN pixel through Encoder, DownEncoderBlock2D and UNetMidBlock2D reaches its item\'s latent mean only', () => {
    const vae = new AutoencoderKL({ block_out_channels: [8, 16], norm_num_groups: 4, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] }, { seed: 3 });
    const images = nanInItem1([2, 8, 8, 3]);
    const posterior = vae.encode(images);
    carriedToItem1(posterior.mean); // [2, 4, 4, 4]
    const decoded = vae.decode(posterior.mean); // Decoder, UpDecoderBlock2D
    carriedToItem1(decoded);
    tf.dispose([images, decoded]);
    posterior.dispose?.();
    vae.dispose();
  });

  it('ImageProjection.forward and TokenConditioner.forward carry a NaN feature to their item\'s tokens only', () => {
    const projection = new ImageProjection({ imageEmbedDim: 6, crossAttentionDim: 8, numImageTextEmbeds: 2, seed: 4 });
    const embeds = tf.tensor2d(Float32Array.from({ length: 12 }, (_, i) => (i === 8 ? Number.NaN : 0.1 * i)), [2, 6]);
    const tokens = projection.forward(embeds); // [2, 2, 8]
    carriedToItem1(tokens);
    const conditioner = new TokenConditioner({ tokenDim: 8, seed: 5, conditions: [{ name: 'gaze', kind: 'vector', inFeatures: 2 }, { name: 'audio', kind: 'vector', inFeatures: 3, tokens: 2 }] });
    const gaze = tf.tensor2d([0.1, 0.2, 0.3, Number.POSITIVE_INFINITY], [2, 2]);
    const audio = tf.fill([2, 3], 0.5) as tf.Tensor2D;
    const conditioned = conditioner.forward({ gaze, audio }); // [2, 3, 8]
    carriedToItem1(conditioned);
    tf.dispose([embeds, tokens, gaze, audio, conditioned]);
    projection.dispose();
    conditioner.dispose();
  });
});
