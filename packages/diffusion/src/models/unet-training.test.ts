/**
 * A tiny UNet2DConditionModel learns to denoise a toy dataset on the wasm backend (ε-prediction, DDPM forward
 * process with linear betas 1e-4…0.02 over 1000 steps, Adam), and repeated forward / training calls leak no tensors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam, Rng, tf, useBackend } from '@consistent-avatar/core';
import { Attention, AutoencoderKL, UNet2DConditionModel, attachIPAdapter, type UNet2DConditionConfig } from '../index.js';
import { TINY_UNET } from '../../test/toy-tasks.js';

const TINY: Partial<UNet2DConditionConfig> = { ...TINY_UNET, in_channels: 3, out_channels: 3 };

/** Four 8×8 RGB patterns in [−1, 1]: checkerboard, gradient, stripes, disk. */
function toyDataset(): Float32Array[] {
  const S = 8;
  const patterns: Array<(y: number, x: number, c: number) => number> = [
    (y, x) => ((y + x) % 2 ? 1 : -1),
    (_y, x, c) => ((x / (S - 1)) * 2 - 1) * (c === 1 ? -1 : 1),
    (y, _x, c) => (Math.floor(y / 2) % 2 ? 0.8 : -0.8) * (c === 2 ? 0.5 : 1),
    (y, x, c) => ((y - 3.5) ** 2 + (x - 3.5) ** 2 < 9 ? 0.9 : -0.9) * (c === 0 ? 1 : 0.3),
  ];
  return patterns.map((f) => {
    const img = new Float32Array(S * S * 3);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) img[(y * S + x) * 3 + c] = f(y, x, c);
    return img;
  });
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('UNet2DConditionModel training and memory', () => {
  it('learns to denoise a toy dataset: ε-MSE falls ≥ 5× within 200 Adam steps (wasm)', () => {
    const unet = new UNet2DConditionModel(TINY, { seed: 11 });
    const rng = new Rng(5);
    const data = toyDataset();
    const T = 1000;
    const alphasCumprod: number[] = [];
    let prod = 1;
    for (let i = 0; i < T; i++) {
      prod *= 1 - (1e-4 + ((0.02 - 1e-4) * i) / (T - 1));
      alphasCumprod.push(prod);
    }
    const text = tf.zeros([8, 1, 16]);
    const opt = new Adam(unet, { lr: 3e-3 });
    const losses: number[] = [];
    for (let step = 0; step < 200; step++) {
      const B = 8;
      const x0 = new Float32Array(B * 8 * 8 * 3);
      const ts: number[] = [];
      for (let b = 0; b < B; b++) {
        x0.set(data[rng.int(data.length)]!, b * 192);
        ts.push(rng.int(T));
      }
      const noise = rng.normal(B * 192);
      const { loss } = opt.step(() =>
        tf.tidy(() => {
          const eps = tf.tensor4d(noise, [B, 8, 8, 3]);
          const a = tf.tensor4d(ts.map((t) => Math.sqrt(alphasCumprod[t]!)), [B, 1, 1, 1]);
          const s = tf.tensor4d(ts.map((t) => Math.sqrt(1 - alphasCumprod[t]!)), [B, 1, 1, 1]);
          const xt = tf.add(tf.mul(a, tf.tensor4d(x0, [B, 8, 8, 3])), tf.mul(s, eps)) as tf.Tensor4D; // q(x_t | x_0)
          return tf.losses.meanSquaredError(eps, unet.forward(xt, ts, text)) as tf.Scalar;
        }),
      );
      losses.push(loss);
    }
    const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
    const first = mean(losses.slice(0, 20));
    const last = mean(losses.slice(-20));
    console.log(`toy denoising: mean ε-MSE first 20 steps ${first.toFixed(4)}, last 20 steps ${last.toFixed(4)} (${(first / last).toFixed(1)}×)`);
    expect(first / last).toBeGreaterThanOrEqual(5);
    opt.dispose();
    unet.dispose();
    text.dispose();
    // ~0.25 s per step on an idle core; the timeout leaves room for a machine shared with other jobs.
  }, 900_000);

  it('numTensors is stable across repeated UNet (plain, IP-Adapter, ControlNet residuals) and VAE calls', () => {
    const unet = new UNet2DConditionModel(TINY, { seed: 1 });
    attachIPAdapter(unet, { numTokens: 3, imageEmbedDim: 12, seed: 2 });
    const vae = new AutoencoderKL({ block_out_channels: [8, 16], norm_num_groups: 4, down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'], up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'] }, { seed: 3 });
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const text = tf.randomNormal([2, 5, 16], 0, 1, 'float32', 2);
    const embeds = tf.randomNormal([2, 12], 0, 1, 'float32', 3);
    const residuals = [[2, 8, 8, 16], [2, 8, 8, 16], [2, 4, 4, 16], [2, 4, 4, 32]].map((s) => tf.zeros(s));
    const mid = tf.zeros([2, 4, 4, 32]);
    const runAll = () => {
      tf.dispose(unet.forward(x, [3, 700], text));
      tf.dispose(unet.forward(x, 10, text, { imageEmbeds: [embeds], crossAttentionKwargs: { scale: 0.5 }, downBlockAdditionalResiduals: residuals, midBlockAdditionalResidual: mid }));
      const post = vae.encode(x);
      tf.dispose(vae.decode(post.mean));
      post.dispose();
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(unet.forward(x, 5, text))) as tf.Scalar);
      tf.dispose([value, ...Object.values(grads)]);
    };
    runAll(); // warm-up (kernels may cache constants)
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) runAll();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, text, embeds, mid, ...residuals]);
    unet.dispose();
    vae.dispose();
  });

  it('query-chunked attention (maxScoreElements) equals the one-shot softmax, with gradients', () => {
    const make = (maxScoreElements?: number) => new Attention({ queryDim: 32, crossAttentionDim: 16, heads: 4, dimHead: 8, seed: 9, maxScoreElements });
    const whole = make();
    const chunked = make(4 * 10 * 7); // B·H·Lk·10 → chunks of 10 queries (of 37)
    const x = tf.randomNormal([2, 37, 32], 0, 2, 'float32', 4);
    const ctx = tf.randomNormal([2, 7, 16], 0, 1, 'float32', 5);
    tf.tidy(() => {
      const diff = tf.max(tf.abs(tf.sub(whole.forward(x, ctx), chunked.forward(x, ctx)))).dataSync()[0]!;
      expect(diff).toBeLessThan(1e-6);
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(chunked.forward(xx, ctx))))(x);
      const g0 = tf.grad((xx: tf.Tensor) => tf.sum(tf.square(whole.forward(xx, ctx))))(x);
      expect(tf.max(tf.abs(tf.sub(g, g0))).dataSync()[0]!).toBeLessThan(1e-4);
    });
    tf.dispose([x, ctx]);
    whole.dispose();
    chunked.dispose();
  });
});
