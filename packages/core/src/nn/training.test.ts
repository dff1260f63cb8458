import { describe, expect, it } from 'vitest';
import { tf, initBackend, useBackend, AdamW, Rng } from '../index.js';
import { TinyUNet } from '../../test/tiny-unet.js';

/**
 * The acceptance check of the foundation: a small conv + group-norm + attention + upsampling network trains for a
 * few steps on wasm (with the kernels we registered) and on the cpu reference backend, from the same seed, and
 * the loss curves agree.
 */
async function lossCurve(backend: 'wasm' | 'cpu', steps: number): Promise<number[]> {
  await initBackend('wasm');
  await useBackend(backend);
  const net = new TinyUNet(7, [32, 32, 32]);
  const opt = new AdamW(net, { lr: 2e-3, maxGradNorm: 1 });
  const rng = new Rng(11);
  const clean = tf.tensor4d(rng.normal(2 * 8 * 8 * 3), [2, 8, 8, 3]);
  const noise = tf.tensor4d(rng.normal(2 * 8 * 8 * 3), [2, 8, 8, 3]);
  const noisy = tf.add(clean, tf.mul(noise, 0.5)) as tf.Tensor4D;
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    losses.push(opt.step(() => tf.mean(tf.square(tf.sub(net.forward(noisy), noise))) as tf.Scalar).loss);
  }
  opt.dispose();
  net.dispose();
  tf.dispose([clean, noise, noisy]);
  return losses;
}

describe('training on wasm matches the cpu reference', () => {
  it('gives the same loss curve for a conv + attention network (6 Adam steps)', async () => {
    const wasm = await lossCurve("wasm", 6);
    const cpu = await lossCurve("cpu", 6);
    for (let i = 0; i < wasm.length; i++) expect(Math.abs(wasm[i]! - cpu[i]!) / cpu[i]!).toBeLessThan(2e-3);
    expect(wasm[wasm.length - 1]!).toBeLessThan(wasm[0]!);
  });
});
