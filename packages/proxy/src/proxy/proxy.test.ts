import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, useBackend, readPng } from '@consistent-avatar/core';
import { readInstaDataset } from '../datasets/insta.js';
import { synthesizeDataset } from '../datasets/synthesize.js';
import { readFrameMask } from '../datasets/masks.js';
import type { AvatarDataset } from '../datasets/common.js';
import { bilinearPlan, sampleTexture } from './texture-sampler.js';
import { evaluateProxy, fitProxyAvatar, frameParams, renderProxy } from './proxy-avatar.js';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`differentiable texture sampling (${backend})`, () => {
    it('matches the rasterizer convention and sends gradients back to the texels (gather → UnsortedSegmentSum)', async () => {
      await useBackend(backend);
      const size = 5;
      const uvs = new Float32Array([0.13, 0.77, 0.5, 0.5, 0.91, 0.08, 0.0, 1.0, 0.31, 0.42]);
      const plan = bilinearPlan(uvs, size, size);
      const texData = Float32Array.from({ length: size * size * 3 }, (_, i) => Math.sin(i * 1.7));
      const tex = tf.tensor2d(texData, [size * size, 3]);
      const sampled = sampleTexture(tex, plan).arraySync();
      // Reference: the rasterizer's bilinear lookup.
      const { sampleTextureBilinear } = await import('../raster/shading.js');
      const out = new Float32Array(3);
      for (let i = 0; i < 5; i++) {
        sampleTextureBilinear({ width: size, height: size, channels: 3, data: texData }, uvs[i * 2]!, uvs[i * 2 + 1]!, out, 0);
        for (let c = 0; c < 3; c++) expect(sampled[i]![c]).toBeCloseTo(out[c]!, 5);
      }
      // d(Σ sampled·coef)/d texel = Σ over samples of weight·coef (scatter-add of the bilinear weights).
      const coef = tf.tensor2d(Array.from({ length: 15 }, (_, i) => 1 + i * 0.1), [5, 3]);
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(sampleTexture(t as tf.Tensor2D, plan), coef)))(tex).dataSync();
      const expected = new Float32Array(size * size * 3);
      const cf = coef.dataSync();
      for (let i = 0; i < 5; i++) for (let k = 0; k < 4; k++) for (let c = 0; c < 3; c++) expected[plan.indices[i * 4 + k]! * 3 + c] += plan.weights[i * 4 + k]! * cf[i * 3 + c]!;
      for (let i = 0; i < expected.length; i++) expect(grad[i]).toBeCloseTo(expected[i]!, 5);
      tf.dispose([tex, coef]);
    });
  });
}

describe('proxy avatar', () => {
  let ds: AvatarDataset;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-proxy-'));
  beforeAll(async () => {
    await useBackend('wasm');
    const { root } = await synthesizeDataset({ out: path.join(tmp, 'ds'), frames: 40, size: 64, identity: 2, seed: 5, testFrames: 8 });
    ds = readInstaDataset(root);
  }, 120_000);

  it('fits: the loss falls, held-out PSNR is high, the render is aligned with the frame but coarser', async () => {
    const proxy = await fitProxyAvatar(ds, { steps: 120, batchPixels: 4096, textureSize: 32, logEvery: 10, seed: 1 });
    const first = proxy.lossLog[0]!.loss, last = proxy.lossLog[proxy.lossLog.length - 1]!.loss;
    expect(last).toBeLessThan(first * 0.7);
    const { psnr, perFrame } = evaluateProxy(proxy, ds);
    expect(perFrame.length).toBe(8);
    expect(psnr).toBeGreaterThan(24);
    // Aligned: silhouettes agree; coarser: less high-frequency energy (4-neighbour Laplacian) inside the face.
    const frame = ds.frames[ds.split.test[3]!]!;
    const r = renderProxy(proxy, frameParams(frame));
    const gt = readPng(frame.imagePath, { channels: 3 }).data;
    const gtMask = readFrameMask(frame)!;
    let inter = 0, union = 0, hfProxy = 0, hfGt = 0;
    const w = 64;
    for (let p = 0; p < w * w; p++) {
      const a = r.mask[p]! > 0.5, b = gtMask[p]! > 0.5;
      if (a && b) inter++;
      if (a || b) union++;
      const x = p % w, y = Math.floor(p / w);
      if (x < 1 || y < 1 || x >= w - 1 || y >= w - 1 || !(a && b) || r.mask[p - 1]! < 1 || r.mask[p + 1]! < 1 || r.mask[p - w]! < 1 || r.mask[p + w]! < 1) continue;
      for (let c = 0; c < 3; c++) {
        const lap = (img: Float32Array) => Math.abs(4 * img[p * 3 + c]! - img[(p - 1) * 3 + c]! - img[(p + 1) * 3 + c]! - img[(p - w) * 3 + c]! - img[(p + w) * 3 + c]!);
        hfProxy += lap(r.rgb);
        hfGt += lap(gt);
      }
    }
    expect(inter / union).toBeGreaterThan(0.9);
    expect(hfProxy).toBeLessThan(0.8 * hfGt);
    // Rendering is a hot path: no tensors left behind.
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) renderProxy(proxy, frameParams(ds.frames[i]!));
    expect(tf.memory().numTensors).toBe(before);
    proxy.dispose();
  });

  it('leaves no tensors behind per optimisation step', async () => {
    const leftAfter = async (steps: number) => {
      const before = tf.memory().numTensors;
      const p = await fitProxyAvatar(ds, { steps, batchPixels: 512, textureSize: 16, maxFrames: 4 });
      p.dispose();
      return tf.memory().numTensors - before;
    };
    // Whatever a fit leaves must not grow with the number of steps.
    expect(await leftAfter(30)).toBe(await leftAfter(5));
  });

  it('checkpoints and resumes to the same result as an uninterrupted run', async () => {
    const opts = { steps: 16, batchPixels: 1024, textureSize: 16, checkpointEvery: 8, seed: 2 };
    const straight = await fitProxyAvatar(ds, { ...opts, checkpointDir: path.join(tmp, 'ckA') });
    const dir = path.join(tmp, 'ckB');
    const half = await fitProxyAvatar(ds, { ...opts, steps: 8, checkpointDir: dir });
    half.dispose();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false); // returned means the folder's lock is released
    // A concurrent writer (a live lock from another host, never taken over) is still refused, naming the holder.
    const busy = path.join(tmp, 'ckBusy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, '.lock'), JSON.stringify({ pid: 1, host: 'another-host', started: new Date().toISOString(), command: 'ca fit-proxy' }));
    await expect(fitProxyAvatar(ds, { ...opts, checkpointDir: busy })).rejects.toThrow(/another-host/);
    const resumed = await fitProxyAvatar(ds, { ...opts, checkpointDir: dir });
    expect(fs.existsSync(path.join(dir, 'step-000016'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'loss.json'), 'utf8')).length).toBe(resumed.lossLog.length);
    for (let i = 0; i < straight.texture.data.length; i++) expect(resumed.texture.data[i]).toBeCloseTo(straight.texture.data[i]!, 5);
    for (let i = 0; i < 27; i++) expect(resumed.sh[i]).toBeCloseTo(straight.sh[i]!, 5);
    straight.dispose();
    resumed.dispose();
    await expect(fitProxyAvatar(ds, { ...opts, textureSize: 32, checkpointDir: dir })).rejects.toThrow(/fitProxyAvatar: argument 'options.checkpointDir' expected checkpoints of the same run \(textureSize = 32\)/);
  });

  it('rejects bad input', async () => {
    await expect(fitProxyAvatar(ds, { textureSize: 3 })).rejects.toThrow(/options.textureSize/);
    await expect(fitProxyAvatar({} as AvatarDataset)).rejects.toThrow(/fitProxyAvatar: argument 'dataset'/);
    await expect(fitProxyAvatar({ ...ds, root: tmp })).rejects.toThrow(/options.model/);
  });
});
